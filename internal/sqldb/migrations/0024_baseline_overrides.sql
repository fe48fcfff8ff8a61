-- A patient's own levels of a baseline rule (alerts/baseline.go): how far
-- from the baseline (deviation), on how many days in a row (days), and
-- a baseline a clinician set (a heart-failure patient's dry weight)
-- instead of the one learnt. NULL: the rule's own. A baseline rule's
-- override has no level (0).
ALTER TABLE rule_overrides ADD COLUMN deviation REAL;
ALTER TABLE rule_overrides ADD COLUMN days INTEGER;
ALTER TABLE rule_overrides ADD COLUMN baseline REAL;
