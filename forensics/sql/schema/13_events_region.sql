-- The cloud region a record names (CloudTrail awsRegion, GuardDuty/Security Hub Region, a GCP
-- resource's location), NULL where the source has none. Added after events' first release: older cases
-- gain the column when opened.
ALTER TABLE events ADD COLUMN IF NOT EXISTS region VARCHAR;
