-- Validates the keys of 20261205000017 (a scan under a lock that lets writes go on). A
-- deploy that fails here found rows already tying two merchants: a fault to investigate,
-- not to skip.
ALTER TABLE received_pix VALIDATE CONSTRAINT received_pix_charge_same_merchant;
ALTER TABLE received_pix VALIDATE CONSTRAINT received_pix_recurring_charge_same_merchant;
ALTER TABLE transfer_returns VALIDATE CONSTRAINT transfer_returns_transfer_same_merchant;
ALTER TABLE recurring_charges VALIDATE CONSTRAINT recurring_charges_recurrence_same_merchant;
ALTER TABLE solicrecs VALIDATE CONSTRAINT solicrecs_recurrence_same_merchant;
ALTER TABLE charges VALIDATE CONSTRAINT charges_location_same_merchant;
ALTER TABLE recurrences VALIDATE CONSTRAINT recurrences_location_same_merchant;
