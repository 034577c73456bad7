-- Whether the settled amount of a transfer or refund is the one the rail reported, or the
-- amount ordered, assumed because the rail did not say (a return proved the money left
-- before the settlement was heard, or a report without an amount). Only an assumed amount
-- is moved when the rail later reports another one; two reports that disagree are not
-- reversed one by the other. Rows settled before this migration count as reported (NULL):
-- nothing is moved on their account.
ALTER TABLE transfers ADD COLUMN valor_liquidado_informado boolean;
ALTER TABLE refunds ADD COLUMN valor_liquidado_informado boolean;
