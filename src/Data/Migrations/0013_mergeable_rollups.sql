-- Rollups every writer can merge into. Two activations of one code (a grain moving between silos, or briefly
-- alive on two silos after one was declared dead) used to overwrite each other's unique-visitor sketch. Stored
-- register by register, a sketch is raised to the larger rank by every writer, in any order, any number of times.
CREATE TABLE qr_rollup_visitor_registers (
    qr_code_id bigint   NOT NULL,
    day        date     NOT NULL,
    register   smallint NOT NULL CHECK (register BETWEEN 0 AND 2047),
    rank       smallint NOT NULL CHECK (rank BETWEEN 1 AND 64),
    PRIMARY KEY (qr_code_id, day, register)
) WITH (fillfactor = 80);

INSERT INTO qr_rollup_visitor_registers (qr_code_id, day, register, rank)
SELECT u.qr_code_id, u.day, r.i, get_byte(u.sketch, r.i)
  FROM qr_rollup_uniques_daily u
 CROSS JOIN generate_series(0, 2047) AS r (i)
 WHERE length(u.sketch) = 2048 AND get_byte(u.sketch, r.i) > 0;

DROP TABLE qr_rollup_uniques_daily;

-- Counters are added, so a batch must be added once: each rollup batch records its id here in its own
-- transaction. A batch retried after a commit whose answer was lost finds its id and is skipped.
CREATE TABLE rollup_flushes (
    id         uuid        PRIMARY KEY,
    written_at timestamptz NOT NULL DEFAULT now()
);
