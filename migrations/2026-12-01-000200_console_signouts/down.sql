DROP TABLE console_signouts;
