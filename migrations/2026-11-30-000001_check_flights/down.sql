DROP TABLE check_flights;
DROP SEQUENCE check_flight_tickets;
