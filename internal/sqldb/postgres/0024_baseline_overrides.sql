-- As ../migrations/0024_baseline_overrides.sql.
ALTER TABLE rule_overrides ADD COLUMN deviation DOUBLE PRECISION;
ALTER TABLE rule_overrides ADD COLUMN days BIGINT;
ALTER TABLE rule_overrides ADD COLUMN baseline DOUBLE PRECISION;
