INSERT INTO commit_floor (v) VALUES (1);
