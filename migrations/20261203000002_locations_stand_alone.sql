-- Payload locations stand on their own (`/loc`): a merchant creates one (POST /loc), links
-- it to a charge (`loc.id` in a cob body), unlinks it (DELETE /loc/{id}/txid) and may link
-- it again. The BR Code depends only on the location and its receiver, so it moves to the
-- location: a location without a charge still has the QR code a merchant prints.
--
-- charges.pix_copia_e_cola is no longer written or read; it stays until no deployed code
-- reads it (code from before this migration may still run during a deploy), then goes.

ALTER TABLE locations ADD COLUMN pix_copia_e_cola text CHECK (length(pix_copia_e_cola) <= 512);

UPDATE locations l SET pix_copia_e_cola = c.pix_copia_e_cola
  FROM charges c
 WHERE c.loc_id = l.id AND c.pix_copia_e_cola IS NOT NULL;

-- A location without a code could only be one a failed create left behind, linked to no
-- charge: nothing points at it.
DELETE FROM locations l
 WHERE l.pix_copia_e_cola IS NULL
   AND NOT EXISTS (SELECT 1 FROM charges c WHERE c.loc_id = l.id);

ALTER TABLE locations ALTER COLUMN pix_copia_e_cola SET NOT NULL;

-- GET /loc lists a merchant's locations by creation time.
CREATE INDEX locations_merchant_created ON locations (merchant_id, created_at, id);
