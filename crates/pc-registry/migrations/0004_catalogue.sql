-- phonecert registry: the requirement catalogue a run audits against (issue 13).
-- Portable between SQLite and PostgreSQL like 0001 to 0003.

-- One of the catalogues embedded in phonecert (pc_certify::EMBEDDED): phonecert-baseline,
-- en-18031-2, taics-ts-0029, cn-preload. The action that queues a run checks the name; runs
-- queued before this migration audited against the baseline.
ALTER TABLE runs ADD COLUMN catalogue TEXT NOT NULL DEFAULT 'phonecert-baseline';
