//! nfq-core's errno names, hook names and option ranges are those of facts/nfqueue.json, the
//! table the TypeScript packages read too.

use nfq_core::errno_name;
use nfq_core::hook_name;
use serde_json::Value;

fn facts() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("facts/nfqueue.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn errno_names_are_the_tables() {
    let facts = facts();
    let names = facts["errno"]["names"].as_object().unwrap();
    assert!(names.len() > 100);
    for (number, name) in names {
        assert_eq!(errno_name(number.parse().unwrap()), name.as_str().unwrap());
    }
    assert_eq!(errno_name(4095), "E4095");
}

#[test]
fn hook_names_are_the_tables() {
    let facts = facts();
    let names = |list: &Value| list.as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect::<Vec<_>>();
    for (family, entry) in facts["hooks"]["families"].as_object().unwrap() {
        let hooks = names(&entry["hooks"]);
        let family: u8 = family.parse().unwrap();
        for (hook, name) in hooks.iter().enumerate() {
            assert_eq!(hook_name(family, hook as u8), Some(name.as_str()));
        }
        assert_eq!(hook_name(family, hooks.len() as u8), None);
    }
    for (hook, name) in names(&facts["hooks"]["inet"]).iter().enumerate() {
        assert_eq!(hook_name(2, hook as u8), Some(name.as_str()));
    }
}

#[test]
fn option_limits_are_the_tables() {
    let facts = facts();
    for (js_name, option) in facts["queueOptions"].as_object().unwrap() {
        let Some(min) = option.get("min") else { continue };
        let limit = nfq_core::facts::OPTION_LIMITS.iter().find(|l| l.js_name == js_name).unwrap_or_else(|| panic!("{js_name}"));
        assert_eq!((limit.name, limit.min, limit.max), (option["rust"].as_str().unwrap(), min.as_i64().unwrap(), option["max"].as_i64().unwrap()));
        assert_eq!(nfq_core::facts::js_option_name(limit.name), Some(js_name.as_str()));
    }
}
