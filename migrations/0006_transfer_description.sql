-- An optional free-text description of a transfer, shown in movements ("Gemini API call").
-- The hash chain covers it when present (rows without one hash exactly as before).
ALTER TABLE transfers ADD COLUMN description TEXT
  CHECK (description IS NULL OR length(description) BETWEEN 1 AND 500);
