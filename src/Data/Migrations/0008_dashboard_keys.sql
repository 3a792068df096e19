-- The key ring that protects the dashboard's session cookies (ASP.NET Core data protection), shared
-- by every gateway so that a session signed in on one gateway works on all of them. One row per key
-- (an XML element written by the framework). Anyone who can read this table can forge sessions,
-- as anyone who can read the rest of this database can read everything: guard it like the database.
CREATE TABLE dashboard_keys (
    friendly_name text        PRIMARY KEY,
    xml           text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
