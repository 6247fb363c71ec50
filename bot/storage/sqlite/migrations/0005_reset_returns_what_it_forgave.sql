-- A reset of a member's spent credits reports what it forgave. RETURNING shows a row as the
-- statement left it (charged = 0), so the same UPDATE also writes the amount it cleared here and
-- returns that: one statement, nothing for a settling job to slip between a read and the write.

ALTER TABLE budget_usage ADD COLUMN last_forgiven INTEGER NOT NULL DEFAULT 0;
