-- A row that names another merchant-owned row names one of its own merchant's: a received
-- Pix its charge or recurring charge, a return its transfer, a recurrence's charge or
-- solicitation its recurrence, a charge or recurrence its location. The API never mixes
-- merchants; from now on the database refuses it too (the single-column keys stay and
-- still cover a Pix to a key that is not ours, whose merchant is unknown). Added NOT VALID
-- (a brief lock, no scan) and validated in the next migration, without blocking writes.
-- Refunds are tied to their Pix's merchant by refunds_guard: the unique (merchant_id, id)
-- index on received_pix that a key would need costs every credit.
ALTER TABLE received_pix
    ADD CONSTRAINT received_pix_charge_same_merchant FOREIGN KEY (merchant_id, charge_id)
        REFERENCES charges (merchant_id, id) NOT VALID,
    ADD CONSTRAINT received_pix_recurring_charge_same_merchant FOREIGN KEY (merchant_id, recurring_charge_id)
        REFERENCES recurring_charges (merchant_id, id) NOT VALID;
ALTER TABLE transfer_returns
    ADD CONSTRAINT transfer_returns_transfer_same_merchant FOREIGN KEY (merchant_id, transfer_id)
        REFERENCES transfers (merchant_id, id) NOT VALID;
ALTER TABLE recurring_charges
    ADD CONSTRAINT recurring_charges_recurrence_same_merchant FOREIGN KEY (merchant_id, recurrence_id)
        REFERENCES recurrences (merchant_id, id) NOT VALID;
ALTER TABLE solicrecs
    ADD CONSTRAINT solicrecs_recurrence_same_merchant FOREIGN KEY (merchant_id, recurrence_id)
        REFERENCES recurrences (merchant_id, id) NOT VALID;
ALTER TABLE charges
    ADD CONSTRAINT charges_location_same_merchant FOREIGN KEY (merchant_id, loc_id)
        REFERENCES locations (merchant_id, id) NOT VALID;
ALTER TABLE recurrences
    ADD CONSTRAINT recurrences_location_same_merchant FOREIGN KEY (merchant_id, loc_id)
        REFERENCES rec_locations (merchant_id, id) NOT VALID;
