//! The database enforces the ledger's invariants by itself, and `tucano ledger check`
//! finds any that were broken behind its back.

use crate::common::*;
use sqlx::{Connection, PgPool};
use std::process::Command;
use tucano_shared::domain::ids::EndToEndId;
use tucano_shared::domain::money::Amount;
use tucano_shared::domain::payment::{IncomingPix, Payer};

fn ledger_check(url: &str) -> (bool, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_tucano")).args(["ledger", "check"]).env("DATABASE_URL", url).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A merchant with 10.00 available, received as a real Pix; returns (rail, available) ids.
async fn funded(app: &TestApp) -> (i64, i64) {
    let _m = app.merchant("Loja", "loja@example.com").await;
    let pix = IncomingPix {
        end_to_end_id: EndToEndId::parse("E9999999920261121130500000000001").unwrap(),
        chave: "loja@example.com".into(),
        txid: None,
        valor: Amount::parse("10.00").unwrap(),
        horario: chrono::Utc::now(),
        pagador: Payer { documento: None, nome: None },
        info_pagador: None,
    };
    app.state.pix.record_incoming("seed", &pix).await.unwrap();
    let accounts: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, kind FROM ledger_accounts ORDER BY id").fetch_all(&app.pool).await.unwrap();
    let id = |k: &str| accounts.iter().find(|(_, kind)| kind == k).unwrap().0;
    (id("rail_settlement"), id("merchant_available"))
}

async fn try_post(pool: &PgPool, key: &str, legs: &[(i64, i64)]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let t: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_transactions (kind, natural_key) VALUES ('pix_received', $1) RETURNING id",
    )
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    // An entry's legs in one statement, as the API posts them.
    let (accounts, amounts): (Vec<i64>, Vec<i64>) = legs.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO ledger_postings (transaction_id, account_id, amount) SELECT $1, a, v FROM unnest($2::bigint[], $3::bigint[]) AS l(a, v)",
    )
    .bind(t)
    .bind(&accounts)
    .bind(&amounts)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

#[sqlx::test(migrations = "./migrations")]
async fn no_setting_lets_an_unbalanced_posting_into_an_entry(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (rail, available) = funded(&app).await;
    let role = as_application(&app.pool).await;
    let entry = |key: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO ledger_transactions (kind, natural_key) VALUES ('pix_received', $1) RETURNING id",
        )
        .bind(key)
    };
    let legs = "INSERT INTO ledger_postings (transaction_id, account_id, amount) VALUES ($1, $2, -100), ($1, $3, 100)";
    let one = "INSERT INTO ledger_postings (transaction_id, account_id, amount) VALUES ($1, $2, 1000000)";

    // A balanced entry, its commit-time checks fired early, then one more leg.
    let mut tx = role.begin().await.unwrap();
    let t = entry("early-checks").fetch_one(&mut *tx).await.unwrap();
    sqlx::query(legs).bind(t).bind(rail).bind(available).execute(&mut *tx).await.unwrap();
    sqlx::query("SET CONSTRAINTS ALL IMMEDIATE").execute(&mut *tx).await.unwrap();
    sqlx::query("SET CONSTRAINTS ALL DEFERRED").execute(&mut *tx).await.unwrap();
    let late = sqlx::query(one).bind(t).bind(available).execute(&mut *tx).await;
    assert!(late.is_err(), "a leg that unbalances an entry went in");
    drop(tx);

    // Legs split over statements: each statement must leave the entry balanced.
    let mut tx = role.begin().await.unwrap();
    let t = entry("split-legs").fetch_one(&mut *tx).await.unwrap();
    let half = sqlx::query(one).bind(t).bind(available).execute(&mut *tx).await;
    assert!(half.is_err(), "half an entry went in");
    drop(tx);

    // An entry without postings, its checks fired early: refused then.
    let mut tx = role.begin().await.unwrap();
    entry("no-legs").fetch_one(&mut *tx).await.unwrap();
    let early = sqlx::query("SET CONSTRAINTS ALL IMMEDIATE").execute(&mut *tx).await;
    assert!(early.is_err(), "an entry without postings passed its check");
    drop(tx);

    let balance: i64 = sqlx::query_scalar("SELECT sum(balance)::bigint FROM ledger_balances WHERE account_id = $1")
        .bind(available)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(balance, 1000, "nothing moved the balance");
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn the_database_refuses_what_would_break_the_ledger(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (rail, available) = funded(&app).await;

    assert!(
        try_post(&app.pool, "unbalanced", &[(rail, -500), (available, 400)]).await.is_err(),
        "postings must sum to zero"
    );
    assert!(try_post(&app.pool, "one-leg", &[]).await.is_err(), "a transaction needs postings");
    assert!(
        try_post(&app.pool, "overdraft", &[(available, -1001), (rail, 1001)]).await.is_err(),
        "no negative balance"
    );
    let seed = "E9999999920261121130500000000001";
    assert!(try_post(&app.pool, seed, &[(rail, -1), (available, 1)]).await.is_err(), "natural keys are unique");
    assert!(try_post(&app.pool, "missing-account", &[(rail, -1), (999_999, 1)]).await.is_err());
    // A committed entry is closed: a balanced pair cannot be added to it later.
    let old: i64 = sqlx::query_scalar("SELECT id FROM ledger_transactions ORDER BY id LIMIT 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let reopened = sqlx::query(
        "INSERT INTO ledger_postings (transaction_id, account_id, amount) VALUES ($1, $2, -500), ($1, $3, 500)",
    )
    .bind(old)
    .bind(rail)
    .bind(available)
    .execute(&app.pool)
    .await;
    assert!(reopened.is_err(), "postings joined a committed entry");
    let nowhere = sqlx::query(
        "INSERT INTO ledger_postings (transaction_id, account_id, amount) VALUES (999999, $1, -500), (999999, $2, 500)",
    )
    .bind(rail)
    .bind(available)
    .execute(&app.pool)
    .await;
    let refused = nowhere.expect_err("postings joined an entry that does not exist");
    assert_eq!(
        refused.as_database_error().and_then(|e| e.constraint()),
        Some("ledger_entry_closed"),
        "refused by the ledger's own check: {refused}"
    );
    assert!(sqlx::query("UPDATE ledger_postings SET amount = amount * 2").execute(&app.pool).await.is_err());
    assert!(sqlx::query("DELETE FROM ledger_postings").execute(&app.pool).await.is_err());
    assert!(sqlx::query("UPDATE ledger_balances SET balance = 0").execute(&app.pool).await.is_err());
    // (Spending exactly what is there is fine: the refund tests take balances to 0.00.)
    app.assert_ledger_ok().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn ledger_check_passes_on_a_sound_database_and_fails_on_a_corrupted_one(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (rail, available) = funded(&app).await;
    let url = database_url_of(&app.pool);
    let (ok, out) = ledger_check(&url);
    assert!(ok, "{out}");

    // Corrupt it behind the triggers' back, as a bad manual fix or a bug could.
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica").execute(&mut *conn).await.unwrap();
    let t: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_transactions (kind, natural_key) VALUES ('pix_received', 'ghost') RETURNING id",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::query("INSERT INTO ledger_postings (transaction_id, account_id, amount) VALUES ($1, $2, 250)")
        .bind(t)
        .bind(available)
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO ledger_postings (transaction_id, account_id, amount) VALUES (999999, $1, -7), (999999, $2, 7)",
    )
    .bind(rail)
    .bind(available)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("UPDATE ledger_balances SET balance = balance - 5000 WHERE account_id = $1 AND shard = 0")
        .bind(rail)
        .execute(&mut *conn)
        .await
        .unwrap();
    // A received Pix whose record no longer says what its entry booked (its fee).
    sqlx::query("UPDATE received_pix SET fee = fee + 1").execute(&mut *conn).await.unwrap();
    // Money owed to operations that no merchant owes.
    let owed: i64 = sqlx::query_scalar(
        "WITH t AS (INSERT INTO ledger_transactions (kind, natural_key) VALUES ('pix_received', 'nobody') RETURNING id)
         INSERT INTO ledger_postings (transaction_id, account_id, amount)
         SELECT t.id, a.id, CASE a.kind WHEN 'rail_settlement' THEN 300 ELSE -300 END FROM t, ledger_accounts a
          WHERE a.kind IN ('rail_settlement', 'operations_receivable') RETURNING transaction_id",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    // A repayment by a merchant who owed nothing, and one taken from the rail instead.
    let forged_repayment = |key_number: i32, from: &'static str| {
        format!(
            "WITH t AS (INSERT INTO ledger_transactions (kind, natural_key)
                        SELECT 'debt_repayment', merchant_id || ':{key_number}' FROM ledger_accounts WHERE id = $1
                        RETURNING id)
             INSERT INTO ledger_postings (transaction_id, account_id, amount)
             SELECT t.id, a.id, CASE a.kind WHEN 'operations_receivable' THEN 200 ELSE -200 END FROM t, ledger_accounts a
              WHERE a.id = CASE WHEN '{from}' = 'merchant' THEN $1 END OR a.kind IN ('operations_receivable', '{from}')
             RETURNING transaction_id"
        )
    };
    sqlx::query(&forged_repayment(1, "merchant")).bind(available).execute(&mut *conn).await.unwrap();
    let from_rail: i64 = sqlx::query_scalar(&forged_repayment(2, "rail_settlement"))
        .bind(available)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    sqlx::query("SET session_replication_role = origin").execute(&mut *conn).await.unwrap();
    drop(conn);

    let (ok, out) = ledger_check(&url);
    assert!(!ok, "the check must fail:\n{out}");
    assert!(out.contains("repaid 400 more than it owed"), "{out}");
    assert!(
        out.contains(&format!("owed: repayment {from_rail} is not 200 from its merchant's available balance")),
        "{out}"
    );
    assert!(out.contains("is booked as -1000 at the rail"), "{out}");
    assert!(out.contains("zero-sum: transaction"), "{out}");
    assert!(out.contains("balances: account"), "{out}");
    assert!(out.contains("ledger entry") && out.contains("has no received Pix"), "{out}");
    assert!(out.contains("belongs to no ledger entry"), "{out}");
    assert!(out.contains(&format!("owed: entry {owed} moves the operations receivable for no transfer")), "{out}");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_ledgers_checks_read_rows_by_key_even_when_planned_on_a_small_ledger(pool: PgPool) {
    // A session plans its triggers' queries once and keeps the plans while the ledger
    // grows: planned on a small ledger, a check that scanned a table would go on scanning
    // it, every credit reading every entry ever booked.
    let app = TestApp::spawn(pool).await;
    let (rail, available) = funded(&app).await;
    for i in 0..20 {
        try_post(&app.pool, &format!("small-{i}"), &[(rail, -1), (available, 1)]).await.unwrap();
    }
    sqlx::query("ANALYZE ledger_transactions, ledger_postings, ledger_balances, ledger_accounts")
        .execute(&app.pool)
        .await
        .unwrap();
    // A new session, its plans made now, on these statistics.
    let mut conn = sqlx::PgConnection::connect(&database_url_of(&app.pool)).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let t: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_transactions (kind, natural_key) VALUES ('pix_received', 'planned') RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ledger_postings (transaction_id, account_id, amount) SELECT $1, a, v FROM unnest($2::bigint[], $3::bigint[]) AS l(a, v) ORDER BY a",
    )
    .bind(t)
    .bind(vec![rail, available])
    .bind(vec![-250_i64, 250])
    .execute(&mut *tx)
    .await
    .unwrap();
    // The checks deferred to commit, run now.
    sqlx::query("SET CONSTRAINTS ALL IMMEDIATE").execute(&mut *tx).await.unwrap();
    let scans: Vec<(String, i64)> = sqlx::query_as(
        "SELECT relname::text, seq_scan FROM pg_stat_xact_user_tables WHERE relname LIKE 'ledger\\_%' AND seq_scan > 0",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert!(scans.is_empty(), "a credit scanned whole tables: {scans:?}");
    tx.commit().await.unwrap();
}

#[sqlx::test(migrations = "./migrations")]
async fn credits_in_flight_to_one_account_never_wait_for_each_others_balance_rows(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (rail, available) = funded(&app).await;
    let many =
        sqlx::postgres::PgPoolOptions::new().max_connections(20).connect(&database_url_of(&app.pool)).await.unwrap();
    // As many credits open at once as the merchant's account has balance rows (16), each
    // holding its row until it commits: each finds a free one instead of queueing.
    let mut open = vec![];
    for i in 0..16 {
        let mut tx = many.begin().await.unwrap();
        sqlx::query("SET LOCAL lock_timeout = '2s'").execute(&mut *tx).await.unwrap();
        sqlx::query(
            "WITH t AS (INSERT INTO ledger_transactions (kind, natural_key) VALUES ('pix_received', $1) RETURNING id)
             INSERT INTO ledger_postings (transaction_id, account_id, amount)
             SELECT t.id, p.a, p.v FROM t, (VALUES ($2::bigint, -100::bigint), ($3, 100)) AS p(a, v) ORDER BY p.a",
        )
        .bind(format!("in-flight-{i}"))
        .bind(rail)
        .bind(available)
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("credit {i} waited for another credit's balance row: {e}"));
        open.push(tx);
    }
    for tx in open {
        tx.commit().await.unwrap();
    }
    let total: i64 = sqlx::query_scalar("SELECT sum(balance)::bigint FROM ledger_balances WHERE account_id = $1")
        .bind(available)
        .fetch_one(&many)
        .await
        .unwrap();
    assert_eq!(total, 1000 + 16 * 100, "every credit landed once");
}

#[tokio::test]
async fn a_received_pix_is_booked_in_three_round_trips_to_postgres() {
    // Counted by a proxy in front of the server, in steady state: the key's owner, the one
    // booking statement, which commits by itself (no BEGIN, no COMMIT), and the ping sqlx
    // sends when a connection goes back to the pool (after the credit has answered). None
    // before use on a connection in use a moment ago. It was eleven, one per statement,
    // then six.
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (make test sets it)");
    let round_trips = tucano::bench::round_trips_per_credit(&url).await.unwrap();
    // (At most: a credit on a machine so loaded that a second passed between two credits
    // would also be pinged before use.)
    assert!(round_trips <= 3, "a credit took {round_trips} round trips");
}

/// The tables of schema public, by name, for which `condition` holds (`$1`: the
/// application role).
async fn tables_where(pool: &PgPool, condition: &str) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r' AND {condition} ORDER BY 1"
    ))
    .bind(APPLICATION_ROLE)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn the_application_role_cannot_disable_a_trigger_change_a_posting_or_move_a_balance(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (rail, available) = funded(&app).await;
    let role = as_application(&app.pool).await;
    for forbidden in [
        "ALTER TABLE ledger_postings DISABLE TRIGGER USER".to_owned(),
        "ALTER TABLE ledger_balances DISABLE TRIGGER ledger_balances_guard".to_owned(),
        "UPDATE ledger_postings SET amount = amount * 2".to_owned(),
        "DELETE FROM ledger_transactions".to_owned(),
        format!("UPDATE ledger_balances SET balance = balance + 100 WHERE account_id = {available}"),
        format!("INSERT INTO ledger_balances (account_id, shard, balance) VALUES ({rail}, 99, 100)"),
        "SET session_replication_role = replica".to_owned(),
        "CREATE TABLE shadow (id int)".to_owned(),
        // A temporary table would come before schema public for a trigger's reads.
        "CREATE TEMPORARY TABLE received_pix (id bigint, valor bigint)".to_owned(),
        "DROP TABLE received_pix".to_owned(),
        "UPDATE api_keys SET revoked_at = NULL".to_owned(),
        "DELETE FROM api_keys".to_owned(),
        // History stays: a debit attempt, an event.
        "DELETE FROM recurring_charge_attempts".to_owned(),
        "DELETE FROM outbox_events".to_owned(),
    ] {
        let refused = sqlx::query(&forbidden).execute(&role).await;
        assert!(refused.is_err(), "the application role may: {forbidden}");
    }
    // What it may do, it does through the API (every end-to-end test runs as this role);
    // and every table is reachable by it, so a new table cannot be forgotten.
    let unreachable = tables_where(
        &app.pool,
        "c.relname <> '_sqlx_migrations' AND NOT has_table_privilege($1, c.oid, 'SELECT, INSERT')",
    )
    .await;
    assert!(unreachable.is_empty(), "tables the application role cannot use: {unreachable:?}");
    // Every function of ours reads the tables of schema public, not ones the caller names
    // (a function replaced by a later migration must say its search_path again).
    let unpinned: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
          WHERE p.pronamespace = 'public'::regnamespace AND l.lanname = 'plpgsql'
            AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(unpinned.is_empty(), "functions without a search_path: {unpinned:?}");
    // It deletes only what the API deletes, and the history past its retention, which a
    // guard judges row by row (a table added later gets no DELETE by default).
    let deletable = tables_where(&app.pool, "has_table_privilege($1, c.oid, 'DELETE')").await;
    let history = ["outbox_events", "rail_notifications", "webhook_attempts", "webhook_deliveries"];
    let mut expected = vec!["idempotency_records", "locations", "rate_windows"];
    expected.extend(history);
    expected.sort_unstable();
    assert_eq!(deletable, expected);
    let guarded = tables_where(
        &app.pool,
        "$1::text IS NOT NULL
         AND EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'history_prune_guard')",
    )
    .await;
    assert_eq!(guarded, history);
    app.assert_ledger_ok().await;
}

/// The application role's password is set from a SCRAM verifier we compute (the password
/// itself would be kept by the DDL log): it must be exactly the verifier Postgres computes
/// for the same password and salt.
#[sqlx::test(migrations = false)]
async fn our_scram_verifier_is_the_one_postgres_computes_for_the_same_password_and_salt(pool: PgPool) {
    use base64::Engine;
    let role = format!("scram_probe_{}", uuid::Uuid::new_v4().simple());
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET password_encryption = 'scram-sha-256'").execute(&mut *conn).await.unwrap();
    sqlx::query(&format!("CREATE ROLE {role} PASSWORD 'correct horse battery staple'"))
        .execute(&mut *conn)
        .await
        .unwrap();
    let stored: String = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
        .bind(&role)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    sqlx::query(&format!("DROP ROLE {role}")).execute(&mut *conn).await.unwrap();
    // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
    let (head, _) = stored.split_once('$').unwrap().1.split_once('$').unwrap();
    let (iterations, salt) = head.split_once(':').unwrap();
    let salt: [u8; 16] = base64::engine::general_purpose::STANDARD.decode(salt).unwrap().try_into().unwrap();
    let ours = tucano_shared::adapters::postgres::scram::verifier(
        "correct horse battery staple",
        &salt,
        iterations.parse().unwrap(),
    );
    assert_eq!(ours, stored);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_database_refuses_a_row_that_ties_two_merchants(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = app.merchant("Padaria", "padaria@example.com").await;
    let b = app.merchant("Oficina", "oficina@example.com").await;
    let (status, _, body) = call(
        app.request(reqwest::Method::PUT, &format!("/v2/cob/{}", txid(1)), &a)
            .json(&charge_body("padaria@example.com", "10.00")),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let charge: i64 = sqlx::query_scalar("SELECT id FROM charges").fetch_one(&app.pool).await.unwrap();
    // The other merchant's Pix naming the first one's charge, written past the API.
    let refused = sqlx::query(
        "INSERT INTO received_pix (end_to_end_id, merchant_id, chave, txid, charge_id, valor, horario)
         VALUES ('E9999999920261205120000000000001', $1, 'oficina@example.com', $2, $3, 1000, now())",
    )
    .bind(b.id.0)
    .bind(txid(1))
    .bind(charge)
    .execute(&as_application(&app.pool).await)
    .await
    .unwrap_err();
    let refused = refused.as_database_error().unwrap();
    assert_eq!(refused.constraint(), Some("received_pix_charge_same_merchant"), "{refused}");
    // Every key between two tables that belong to merchants carries the merchant, so a
    // table added later is held to it too. Refunds are held to their Pix's merchant by
    // refunds_guard (a key would need a second unique index on every received Pix).
    let untied: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT c.conrelid::regclass::text || ' -> ' || c.confrelid::regclass::text
           FROM pg_constraint c
          WHERE c.contype = 'f' AND c.confrelid <> 'merchants'::regclass
            AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attname = 'merchant_id' AND NOT a.attisdropped)
            AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.confrelid AND a.attname = 'merchant_id' AND NOT a.attisdropped)
            AND NOT EXISTS (
                SELECT 1 FROM pg_constraint k
                 JOIN pg_attribute f ON f.attrelid = k.conrelid AND f.attname = 'merchant_id'
                 JOIN pg_attribute t ON t.attrelid = k.confrelid AND t.attname = 'merchant_id'
                 WHERE k.contype = 'f' AND k.conrelid = c.conrelid AND k.confrelid = c.confrelid
                   AND k.conkey @> c.conkey AND array_position(k.conkey, f.attnum) = array_position(k.confkey, t.attnum))
          ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(untied, ["refunds -> received_pix"]);
}
