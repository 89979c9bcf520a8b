DROP INDEX provider_checks_requested_idx;
DROP TABLE dead_letters;
DROP TABLE settlements;
