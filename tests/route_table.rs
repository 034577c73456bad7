//! The route table is the single source: serverless.yml and functions/ must match it.

use std::collections::BTreeSet;
use tucano_shared::routes::ROUTES;

fn table() -> BTreeSet<(String, String, String)> {
    ROUTES.iter().map(|r| (r.function.to_owned(), r.method.to_owned(), r.path.to_owned())).collect()
}

#[test]
fn serverless_yml_declares_exactly_the_routes_of_the_table() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/serverless.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut declared = BTreeSet::new();
    for (name, function) in doc["functions"].as_mapping().unwrap() {
        let name = name.as_str().unwrap().to_owned();
        let events = function["events"].as_sequence().map(Vec::as_slice).unwrap_or_default();
        for event in events.iter().filter_map(|e| e.get("httpApi")) {
            let method = event["method"].as_str().unwrap().to_uppercase();
            let path = event["path"].as_str().unwrap().to_owned();
            declared.insert((name.clone(), method, path));
        }
        let artifact = function["package"]["artifact"].as_str().unwrap_or_default();
        assert_eq!(artifact, format!("target/lambda/{name}/bootstrap.zip"), "{name}'s artifact");
    }
    assert_eq!(declared, table());
}

#[test]
fn functions_has_one_binary_per_route_and_no_other() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/functions/src/bin");
    let bins: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    let functions: BTreeSet<String> = ROUTES.iter().map(|r| r.function.to_owned()).collect();
    assert_eq!(bins, functions);
    for r in ROUTES {
        let src = std::fs::read_to_string(format!("{dir}/{}.rs", r.function)).unwrap();
        assert!(src.contains(&format!("RouteId::{:?}", r.id)), "{} serves another route", r.function);
    }
}
