//! Unit tests for the template module, written against strings.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;

fn parse(src: &str) -> Result<Template, TemplateError> {
    parse_template_str(src, Path::new("t.yaml"))
}

fn err(src: &str) -> TemplateError {
    match parse(src).and_then(|t| t.compile().map(|_| t)) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e,
    }
}

fn one(props: &str) -> String {
    format!(
        "resources:\n  - type: Microsoft.Compute/disks\n    count: 3\n    template:\n      name_pattern: \"disk-{{index}}\"\n      properties:\n{props}"
    )
}

fn vars(index: u64) -> RowVars<'static> {
    RowVars {
        index,
        copy: 2,
        random_location: "westeurope",
        location: "westeurope",
        subscription_id: "sub-1",
        resource_group: "rg-1",
        tenant_id: "ten-1",
        original_name: "orig",
    }
}

fn props_json(src: &str, index: u64) -> String {
    let t = parse(src).unwrap();
    let c = t.compile().unwrap();
    let mut out = String::new();
    c.resource(0)
        .render_properties_json(&vars(index), "n", &mut out)
        .unwrap();
    out
}

const FULL: &str = r#"
metadata:
  name: demo
  description: all sections
  version: 1.0
  scale_target: 40000
  baseline_count: 4092
resources:
  - type: Microsoft.Network/virtualNetworks
    count: 10
    template:
      name_pattern: "vnet-{index:04d}"
      location: "{{ random_location }}"
      properties:
        addressSpace: { addressPrefixes: ["10.{{ (index // 256) % 256 }}.{{ index % 256 }}.0/24"] }
        enableDdosProtection: false
      sku: { name: Standard }
      kind: "{{ 'v' ~ (index % 2) }}"
      plan: { name: p1 }
      tags: { env: "{{ ['dev','test','prod'][index % 3] }}", owner: team }
  - type: Microsoft.Network/networkInterfaces
    count: 20
    template:
      name_pattern: "nic-{index}"
config:
  random_locations: [eastus, westeurope]
  resource_group_pattern: "rg-scale-{{ index // 100 }}"
  tag_prefix: scale
  subscription_id: "11111111-1111-1111-1111-111111111111"
  tenant_id: "22222222-2222-2222-2222-222222222222"
  batch_size: 500
  max_parallel: 4
  rate_limit_delay_ms: 10
relationships:
  - { source_type: Microsoft.Network/networkInterfaces, target_type: Microsoft.Network/virtualNetworks, relationship_type: USES_NETWORK, connection_ratio: 0.5 }
  - { source_type: Microsoft.Network/virtualNetworks, target_type: Microsoft.Network/virtualNetworks, relationship_type: CONNECTED_TO }
replicate:
  types: ["Microsoft.Network/*", "Microsoft.Compute/virtualMachines"]
  per_type: { "Microsoft.Compute/virtualMachines": { min: 10, max: 500 } }
  naming: { name_pattern: "{original_name}-s{copy}" }
"#;

#[test]
fn every_section_parses() {
    let t = parse(FULL).unwrap();
    assert_eq!(t.metadata.name.as_deref(), Some("demo"));
    assert_eq!(t.metadata.version.as_deref(), Some("1"));
    assert_eq!(t.metadata.scale_target, Some(40000));
    assert_eq!(t.metadata.baseline_count, Some(4092));
    assert_eq!(t.resources.len(), 2);
    assert_eq!(t.total_count(), 30);
    assert_eq!(t.config.random_locations, ["eastus", "westeurope"]);
    assert_eq!(
        t.config.ignored_keys,
        ["batch_size", "max_parallel", "rate_limit_delay_ms"]
    );
    assert_eq!(t.config.tag_prefix.as_deref(), Some("scale"));
    assert_eq!(t.relationships.len(), 2);
    assert_eq!(t.relationships[0].ratio, Some(0.5));
    assert_eq!(t.relationships[1].ratio(), 1.0);
    let rep = t.replicate.as_ref().unwrap();
    assert!(rep.matches("Microsoft.Network/virtualNetworks/subnets"));
    assert!(rep.matches("microsoft.network/virtualnetworks"));
    assert!(rep.matches("Microsoft.Compute/virtualMachines"));
    assert!(!rep.matches("Microsoft.Compute/disks"));
    assert_eq!(
        rep.per_type,
        [(
            "Microsoft.Compute/virtualMachines".to_string(),
            CopyBounds {
                min: Some(10),
                max: Some(500)
            }
        )]
    );

    let c = t.compile().unwrap();
    let v = vars(300);
    let r = c.resource(0);
    assert_eq!(r.type_name(), "Microsoft.Network/virtualNetworks");
    assert_eq!(r.prefix(), "vnet");
    let mut s = String::new();
    r.render_name(&v, &mut s).unwrap();
    assert_eq!(s, "vnet-0300");
    s.clear();
    r.render_properties_json(&v, "vnet-0300", &mut s).unwrap();
    assert_eq!(
        s,
        r#"{"addressSpace":{"addressPrefixes":["10.1.44.0/24"]},"enableDdosProtection":false}"#
    );
    s.clear();
    assert!(r.render_tags_json(&v, "x", &mut s).unwrap());
    assert_eq!(s, r#"{"env":"dev","owner":"team"}"#);
    s.clear();
    assert!(r.render_sku_json(&v, "x", &mut s).unwrap());
    assert_eq!(s, r#"{"name":"Standard"}"#);
    s.clear();
    assert!(r.render_kind(&v, "x", &mut s).unwrap());
    assert_eq!(s, "v0");
    s.clear();
    assert!(c.render_resource_group(&v, &mut s).unwrap());
    assert_eq!(s, "rg-scale-3");
    s.clear();
    render_name_pattern(c.replicate_name_pattern().unwrap(), &v, &mut s).unwrap();
    assert_eq!(s, "orig-s2");
    // Defaults: location pattern, no tags/sku.
    let nic = c.resource(1);
    s.clear();
    nic.render_location(&v, &mut s).unwrap();
    assert_eq!(s, "westeurope");
    assert!(!nic.render_tags_json(&v, "x", &mut s).unwrap());
    assert!(!nic.render_sku_json(&v, "x", &mut s).unwrap());
    s.clear();
    nic.render_properties_json(&v, "x", &mut s).unwrap();
    assert_eq!(s, "{}");
}

#[test]
fn compiled_template_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<CompiledTemplate>();
    check::<Template>();
}

#[test]
fn shipped_templates_load_and_compile() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data");
    let t = load_template(&root.join("extreme-scale-template.yaml")).unwrap();
    assert_eq!(t.resources.len(), 90);
    assert_eq!(t.total_count(), 35_908);
    assert_eq!(t.metadata.scale_target, Some(40_000));
    assert_eq!(t.metadata.baseline_count, Some(4_092));
    assert_eq!(t.config.random_locations.len(), 10);
    assert!(!t.relationships.is_empty());
    let c = t.compile().unwrap();
    // VNet address prefixes stay distinct across the whole entry.
    let (i, vnet) = t
        .resources
        .iter()
        .enumerate()
        .find(|(_, r)| r.type_name == "Microsoft.Network/virtualNetworks")
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    for idx in 0..vnet.count {
        let mut s = String::new();
        c.resource(i)
            .render_properties_json(&vars(idx), "n", &mut s)
            .unwrap();
        assert!(seen.insert(s), "duplicate VNet properties at {idx}");
    }
    for name in ["small-network.yaml", "replicate-rules.yaml"] {
        let t = load_template(&root.join("templates").join(name)).unwrap();
        t.compile().unwrap();
    }
}

#[test]
fn unknown_key_has_line_and_column() {
    let e = err("resources:\n  - type: Microsoft.Compute/disks\n    count: 1\n    template:\n      name_pattern: x\n      colour: red\n");
    assert_eq!(e.line_column(), Some((6, 7)));
    assert_eq!(e.at(), Some("resources[0].template"));
    let msg = e.to_string();
    assert!(msg.starts_with("template t.yaml:6:7: unknown field `colour` at resources[0].template (expected one of name_pattern, location"), "{msg}");
    assert!(msg.ends_with("remove it or fix the spelling"), "{msg}");
    let e = err("resources: []\nreplicate: {}\nextra: 1\n");
    assert_eq!(e.line_column(), Some((3, 1)));
    assert!(e.to_string().contains("at the top level"), "{e}");
}

#[test]
fn count_errors() {
    for (count, shown) in [
        ("-4", "-4"),
        ("0", "0"),
        ("2.5", "2.5"),
        ("1000000001", "1000000001"),
        ("1e12", "1000000000000.0"),
        ("\"ten\"", "\"ten\" (a string)"),
        ("~", "nothing (null)"),
    ] {
        let src = format!(
            "resources:\n  - type: Microsoft.Compute/disks\n    count: {count}\n    template: {{ name_pattern: x }}\n"
        );
        let e = err(&src);
        assert_eq!(e.at(), Some("resources[0].count"), "{count}");
        assert_eq!(e.line_column(), Some((3, 12)), "{count}");
        assert_eq!(
            e.to_string(),
            format!("template t.yaml:3:12: resources[0].count must be a whole number from 1 to 1000000000, got {shown}")
        );
    }
    assert_eq!(
        parse("resources:\n  - { type: Microsoft.Compute/disks, count: 1000000000, template: { name_pattern: x } }\n")
            .unwrap()
            .total_count(),
        1_000_000_000
    );
}

#[test]
fn undefined_variable_is_an_error_with_its_path() {
    let e = err(&one("        nested: { a: \"{{ idx % 4 }}\" }\n"));
    assert_eq!(e.at(), Some("resources[0].template.properties.nested.a"));
    assert!(e.to_string().contains("undefined variable `idx`"), "{e}");
    assert_eq!(e.line_column(), Some((7, 22)));
    // `name` is not available to name_pattern.
    let e = err("resources:\n  - { type: Microsoft.Compute/disks, count: 1, template: { name_pattern: \"{{ name }}-x\" } }\n");
    assert_eq!(e.at(), Some("resources[0].template.name_pattern"));
    assert!(e.to_string().contains("`name` is not available"), "{e}");
    // Attribute of an existing variable that does not exist: caught by the row-0 render.
    let e = err(&one("        a: \"{{ index.nope }}\"\n"));
    assert!(e.to_string().contains("fails on row 0"), "{e}");
    // Unknown single-brace placeholder.
    let e = err("resources:\n  - { type: Microsoft.Compute/disks, count: 1, template: { name_pattern: \"d-{idx}\" } }\n");
    assert!(e.to_string().contains("unknown placeholder `{idx}`"), "{e}");
}

#[test]
fn jinja_syntax_error() {
    let e = err(&one("        a: \"x-{{ index + }}\"\n"));
    assert_eq!(e.at(), Some("resources[0].template.properties.a"));
    assert!(e.to_string().contains("syntax error"), "{e}");
    let e = err(&one("        a: \"x-{{ index \"\n"));
    assert!(e.to_string().contains("without a closing"), "{e}");
    let e = err(&one("        a: \"{% if x %}y{% endif %}\"\n"));
    assert!(e.to_string().contains("not supported"), "{e}");
}

#[test]
fn floor_division_and_modulo() {
    let src = one("        a: \"10.{{ (index // 256) % 256 }}.{{ index % 256 }}.0/24\"\n        b: \"{{ index // 7 }}\"\n");
    assert_eq!(
        props_json(&src, 70_000),
        r#"{"a":"10.17.112.0/24","b":10000}"#
    );
}

#[test]
fn python_style_index_formats() {
    let t = parse("resources:\n  - { type: Microsoft.Compute/disks, count: 1, template: { name_pattern: \"d-{index:05d}-{index:010d}-{index}-{copy:03d}-{index:4d}-{original_name}\" } }\n").unwrap();
    let c = t.compile().unwrap();
    let mut s = String::new();
    c.resource(0).render_name(&vars(42), &mut s).unwrap();
    assert_eq!(s, "d-00042-0000000042-42-002-  42-orig");
    assert!(c.resource(0).is_fast());
    let e = err("resources:\n  - { type: Microsoft.Compute/disks, count: 1, template: { name_pattern: \"d-{index:5x}\" } }\n");
    assert!(e.to_string().contains("unknown format"), "{e}");
    // Literal braces that are not placeholders stay text.
    let p = compile_pattern("a{}b{ x }c", "flag").unwrap();
    let mut s = String::new();
    render_name_pattern(&p, &vars(1), &mut s).unwrap();
    assert_eq!(s, "a{}b{ x }c");
}

#[test]
fn fast_paths_match_minijinja() {
    let env = minijinja::Environment::new();
    let v = vars(1234);
    let ctx = minijinja::context! {
        index => v.index, copy => v.copy, random_location => v.random_location,
        location => v.location, subscription_id => v.subscription_id,
        resource_group => v.resource_group, tenant_id => v.tenant_id,
        original_name => v.original_name,
    };
    for src in [
        "{{ index }}",
        "{{ random_location }}",
        "vm-{{ copy }}-{{ subscription_id }}",
        "{{location}}/{{ resource_group }}/{{ tenant_id }}/{{ original_name }}",
        "plain text",
        "{{ index * 1 }}-{{ random_location ~ '' }}",
    ] {
        let p = compile_pattern(src, "t").unwrap();
        let mut fast = String::new();
        render_name_pattern(&p, &v, &mut fast).unwrap();
        assert_eq!(fast, env.render_str(src, &ctx).unwrap(), "{src}");
    }
    assert!(compile_pattern("{{ index }}-{{ random_location }}", "t")
        .unwrap()
        .is_fast());
    assert!(!compile_pattern("{{ index + 1 }}", "t").unwrap().is_fast());
    // Python-style placeholders against Python's formatting rules.
    let p = compile_pattern("{index:06d}", "t").unwrap();
    let mut s = String::new();
    render_name_pattern(&p, &v, &mut s).unwrap();
    assert_eq!(s, format!("{:06}", 1234));
}

#[test]
fn expression_output_matches_minijinja_templates() {
    let env = minijinja::Environment::new();
    let v = vars(7);
    let ctx = minijinja::context! { index => 7u64 };
    for src in [
        "{{ index / 2 }}",
        "{{ none }}",
        "{{ true }}",
        "{{ [1, 2] }}",
        "{{ {'a': 1} }}",
        "{{ 1.5 * 2 }}",
        "{{ 'x' ~ index }}",
    ] {
        let p = compile_pattern(src, "t").unwrap();
        let mut s = String::new();
        render_name_pattern(&p, &v, &mut s).unwrap();
        assert_eq!(s, env.render_str(src, &ctx).unwrap(), "{src}");
    }
}

#[test]
fn alias_bomb_is_rejected_quickly() {
    let bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n\
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n\
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n\
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n\
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    // Refused by counting aliases before expanding them (how fast is a benchmark's question).
    let e = err(bomb);
    assert!(e.to_string().contains("alias"), "{e}");

    // One anchor of many values referenced many times: few jumps, huge expansion.
    let mut src = String::from("big: &big [");
    src.push_str(&vec!["1"; 20_000].join(","));
    src.push_str("]\nrefs: [");
    src.push_str(&vec!["*big"; 2_000].join(","));
    src.push_str("]\n");
    let e = err(&src);
    assert!(e.to_string().contains("alias"), "{e}");
}

#[test]
fn deep_nesting_is_rejected_quickly() {
    let depth = 100_000;
    let src = format!("resources: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    let start = Instant::now();
    let e = err(&src);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(e.to_string().contains("deeper than 128"), "{e}");
    let src = format!("a: {}1{}\n", "{b: ".repeat(500), "}".repeat(500));
    assert!(err(&src).to_string().contains("deeper than 128"));
    // Block nesting, indented and compact.
    let src: String = (0..2000)
        .map(|i| format!("{}- \n", " ".repeat(i)))
        .collect();
    assert!(err(&src).to_string().contains("deeper than 128"));
    let src = format!("{}x\n", "- ".repeat(100_000));
    let start = Instant::now();
    assert!(err(&src).to_string().contains("deeper than 128"));
    assert!(start.elapsed() < Duration::from_secs(5));
    // Brackets inside quotes and comments do not count.
    let q = "[".repeat(300);
    parse(&format!("resources:\n  - {{ type: Microsoft.Compute/disks, count: 1, template: {{ name_pattern: \"{q}\", kind: '{q}' }} }} # {q}\n")).unwrap();
}

#[test]
fn oversized_text_is_rejected() {
    let src = " ".repeat(yaml::MAX_TEMPLATE_BYTES + 1);
    assert!(matches!(err(&src), TemplateError::TooLarge { .. }));
}

#[test]
fn non_utf8_names_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    std::fs::write(&p, b"resources:\n  - type: Micro\xffsoft\n").unwrap();
    let e = load_template(&p).unwrap_err();
    match &e {
        TemplateError::NotUtf8 {
            offset,
            line,
            column,
            ..
        } => {
            assert_eq!((*offset, *line, *column), (26, 2, 16));
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string().starts_with(&format!(
            "template {}:2:16: invalid UTF-8 at byte offset 26",
            p.display()
        )),
        "{e}"
    );
}

#[test]
fn empty_file() {
    for src in ["", "   \n", "# only a comment\n", "---\n", "~\n"] {
        let e = err(src);
        assert!(matches!(e, TemplateError::Empty { .. }), "{src:?}: {e}");
        assert!(e
            .to_string()
            .contains("is empty: it needs at least `resources:`"));
    }
    let e = err("metadata: { name: x }\n");
    assert!(e.to_string().contains("lists no resources"), "{e}");
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let e = err("resources:\n  - type: [\n");
    assert!(e.line_column().is_some(), "{e}");
    assert!(e.to_string().starts_with("template t.yaml:3:1:"), "{e}");
}

#[test]
fn type_without_provider_prefix() {
    for ty in [
        "VirtualMachine",
        "virtualMachines/foo",
        "Microsoft/disks",
        "Microsoft.Compute/",
        "Microsoft.Compute//x",
    ] {
        let src = format!(
            "resources:\n  - type: {ty}\n    count: 1\n    template: {{ name_pattern: x }}\n"
        );
        let e = err(&src);
        assert_eq!(e.at(), Some("resources[0].type"), "{ty}");
        assert_eq!(e.line_column(), Some((2, 11)), "{ty}");
        assert!(
            e.to_string()
                .contains("e.g. `Microsoft.Compute/virtualMachines`"),
            "{e}"
        );
    }
    // Nested and lower-case types are fine.
    parse("resources:\n  - { type: microsoft.network/virtualnetworks/subnets, count: 1, template: { name_pattern: x } }\n").unwrap();
}

#[test]
fn duplicate_type() {
    let e = err("resources:\n  - { type: Microsoft.Web/serverfarms, count: 1, template: { name_pattern: a } }\n  - { type: Microsoft.Web/serverFarms, count: 1, template: { name_pattern: b } }\n");
    assert_eq!(e.at(), Some("resources[1].type"));
    assert_eq!(e.line_column(), Some((3, 13)));
    assert!(e.to_string().contains("repeats resources[0].type"), "{e}");
}

const TWO: &str = "resources:\n  - { type: Microsoft.Compute/virtualMachines, count: 1, template: { name_pattern: a } }\n  - { type: Microsoft.Network/networkInterfaces, count: 1, template: { name_pattern: b } }\nrelationships:\n";

#[test]
fn bad_relationships() {
    for rel in ["uses", "USES-X", "1USES", ""] {
        let src = format!("{TWO}  - {{ source_type: Microsoft.Compute/virtualMachines, target_type: Microsoft.Network/networkInterfaces, relationship_type: \"{rel}\" }}\n");
        let e = err(&src);
        assert_eq!(e.at(), Some("relationships[0].relationship_type"), "{rel}");
        assert_eq!(e.line_column().map(|l| l.0), Some(5));
    }
    let src = format!("{TWO}  - {{ source_type: Microsoft.Compute/virtualMachines, target_type: Microsoft.Network/networkInterfaces, relationship_type: USES }}\n  - {{ source_type: Microsoft.Compute/virtualmachines, target_type: Microsoft.Network/networkInterfaces, relationship_type: USES }}\n");
    let e = err(&src);
    assert_eq!(e.at(), Some("relationships[1].source_type"));
    assert_eq!(e.line_column(), Some((6, 20)));
    assert!(
        e.to_string()
            .contains("did you mean `Microsoft.Compute/virtualMachines`"),
        "{e}"
    );
    for ratio in ["-1", "1001", ".nan", ".inf"] {
        let src = format!("{TWO}  - {{ source_type: Microsoft.Compute/virtualMachines, target_type: Microsoft.Network/networkInterfaces, relationship_type: USES, ratio: {ratio} }}\n");
        let e = err(&src);
        assert_eq!(e.at(), Some("relationships[0].ratio"), "{ratio}");
        assert!(e.line_column().is_some());
    }
    let src = format!("{TWO}  - {{ source_type: Microsoft.Compute/virtualMachines, target_type: Microsoft.Network/networkInterfaces, relationship_type: USES, ratio: 1, connection_ratio: 2 }}\n");
    assert!(err(&src).to_string().contains("duplicate field"));
}

#[test]
fn max_takes_the_builtin_pairs_cardinality_when_none_is_written() {
    // VM → NIC is a built-in one_to_many pair: `max` alone is enough, either direction.
    let ok = format!("{TWO}  - {{ source_type: Microsoft.Compute/virtualMachines, target_type: Microsoft.Network/networkInterfaces, relationship_type: CONTAINS, max: 2 }}\n");
    assert_eq!(parse(&ok).unwrap().relationships[0].max, Some(2));
    let reversed = format!("{TWO}  - {{ source_type: Microsoft.Network/networkInterfaces, target_type: Microsoft.Compute/virtualMachines, relationship_type: ATTACHED_TO, max: 1 }}\n");
    assert!(parse(&reversed).is_ok());
    // A pair without a built-in rule still needs the cardinality written.
    let src = "resources:\n  - { type: Microsoft.KeyVault/vaults, count: 1, template: { name_pattern: a } }\n  - { type: Microsoft.Storage/storageAccounts, count: 1, template: { name_pattern: b } }\nrelationships:\n  - { source_type: Microsoft.KeyVault/vaults, target_type: Microsoft.Storage/storageAccounts, relationship_type: USES, max: 2 }\n";
    let e = err(src);
    assert_eq!(e.at(), Some("relationships[0].max"));
    assert!(
        e.to_string().contains("inherited from the built-in rule"),
        "{e}"
    );
}

#[test]
fn replicate_section_errors() {
    let e = err("replicate: { types: [\"Microsoft.*/x*y\"] }\n");
    assert_eq!(e.at(), Some("replicate.types[0]"));
    let e = err(
        "replicate: { per_type: { \"Microsoft.Compute/virtualMachines\": { min: 5, max: 1 } } }\n",
    );
    assert!(e.to_string().contains("swap them"), "{e}");
    let e = err("replicate: { per_type: { \"Microsoft.Compute/virtualMachines\": { mn: 5 } } }\n");
    assert!(e.to_string().contains("unknown field"), "{e}");
    let e = err("replicate: { naming: { name_pattern: \"{{ bogus }}\" } }\n");
    assert_eq!(e.at(), Some("replicate.naming.name_pattern"));
    let t = parse("replicate: {}\n").unwrap();
    assert!(t.replicate.unwrap().matches("Anything.At/all"));
}

#[test]
fn numbers_and_booleans_are_coerced_only_for_sole_expressions() {
    let src = one(concat!(
        "        n: \"{{ index }}\"\n",
        "        f: \"{{ index / 2 }}\"\n",
        "        b: \"{{ index > 1 }}\"\n",
        "        s: \"n{{ index }}\"\n",
        "        z: \"{{ '007' }}\"\n",
        "        lit: \"42\"\n",
        "        native: 42\n",
        "        list: [\"{{ index % 2 == 0 }}\", 1, x]\n",
    ));
    assert_eq!(
        props_json(&src, 3),
        r#"{"n":3,"f":1.5,"b":true,"s":"n3","z":"007","lit":"42","native":42,"list":[false,1,"x"]}"#
    );
    // Tags stay strings.
    let t = parse("resources:\n  - { type: Microsoft.Compute/disks, count: 1, template: { name_pattern: a, tags: { n: \"{{ index }}\" } } }\n").unwrap();
    let mut s = String::new();
    t.compile()
        .unwrap()
        .resource(0)
        .render_tags_json(&vars(5), "a", &mut s)
        .unwrap();
    assert_eq!(s, r#"{"n":"5"}"#);
}

#[test]
fn rendered_strings_are_json_escaped() {
    let src = one(concat!(
        "        q: \"{{ 'say \\\"hi\\\"' }}\"\n",
        "        u: \"{{ 'h\u{e9}llo \u{2603}' }}\"\n",
        "        nl: \"{{ 'a\\nb\\tc\\\\d' ~ '\\x01' }}\"\n",
        "        \"key \\\"q\\\"\": \"{{ name }}\"\n",
    ));
    let out = props_json(&src, 0);
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed["q"], "say \"hi\"");
    assert_eq!(parsed["u"], "h\u{e9}llo \u{2603}");
    assert_eq!(parsed["nl"], "a\nb\tc\\d\u{1}");
    assert_eq!(parsed["key \"q\""], "n");
    assert!(out.contains("h\u{e9}llo"), "{out}");
    let mut s = String::new();
    render::push_json_str(&mut s, "\"\\\n\r\t\u{8}\u{c}\u{1f}é");
    assert_eq!(
        s,
        serde_json::to_string("\"\\\n\r\t\u{8}\u{c}\u{1f}é").unwrap()
    );
}

#[test]
fn type_prefix_table_is_case_sensitive() {
    assert_eq!(type_prefix("Microsoft.Compute/virtualMachines"), "vm");
    assert_eq!(
        type_prefix("Microsoft.Network/virtualNetworks/subnets"),
        "subnet"
    );
    assert_eq!(type_prefix("Microsoft.Web/serverfarms"), "appplan");
    assert_eq!(type_prefix("Microsoft.Web/serverFarms"), "resource");
    assert_eq!(type_prefix("Microsoft.Cache/Redis"), "resource");
    assert_eq!(type_prefix("Microsoft.Devices/IotHubs"), "iothub");
}

#[test]
fn runtime_errors_carry_path_and_index() {
    // Row 0 renders; row 3 divides by zero.
    let t = parse(&one("        a: \"{{ 10 // (3 - index) }}\"\n")).unwrap();
    let c = t.compile().unwrap();
    let mut s = String::new();
    let e = c
        .resource(0)
        .render_properties_json(&vars(3), "n", &mut s)
        .unwrap_err();
    assert_eq!(e.at(), Some("resources[0].template.properties.a"));
    assert!(e.to_string().contains("for index 3"), "{e}");
}

#[test]
fn cli_patterns() {
    let e = compile_pattern("{{ type }}", "--name-pattern").unwrap_err();
    assert!(e.to_string().starts_with("pattern --name-pattern:"), "{e}");
    compile_pattern("{original_name}-s{copy}", "--name-pattern").unwrap();
}

#[test]
fn non_finite_numbers_are_errors() {
    for (expr, shown) in [("1/0", "inf"), ("-1/0", "-inf"), ("(1/0) - (1/0)", "NaN")] {
        let e = err(&one(&format!("        a: \"{{{{ {expr} }}}}\"\n")));
        let msg = e.to_string();
        assert!(
            msg.contains("properties.a: fails on row 0: ")
                && msg.contains(&format!("is {shown}, not a finite number")),
            "{msg}"
        );
    }
    // A finite float still renders.
    assert_eq!(
        props_json(&one("        a: \"{{ 3/2 }}\"\n"), 0),
        r#"{"a":1.5}"#
    );
}

#[test]
fn totality_is_conservative() {
    let total = [
        "vm-{index:05d}",
        "literal",
        "{{ random_location }}",
        "{{ resource_group ~ '-' ~ index }}",
        "{{ 'a \\' / % ' ~ original_name }}",
        "{{ index and original_name or 'x' }}",
    ];
    let partial = [
        "{{ 10 // (1 - index) }}",
        "{{ index / 2 }}",
        "{{ index % 3 }}",
        "{{ original_name[0] }}",
        "{{ original_name | upper }}",
        "{{ range(3) }}",
        "{{ index + 1 }}",
        "{{ index * 2 }}",
        "{{ 'x' if tenant_id }}",
        "{{ 'a' in original_name }}",
        "{{ index is even }}",
    ];
    for (src, want) in total
        .iter()
        .map(|s| (s, true))
        .chain(partial.iter().map(|s| (s, false)))
    {
        let p = compile_pattern(src, "p").unwrap();
        assert_eq!(p.is_total(), want, "{src}");
    }
    // A resource of total fields needs no per-row check; one fallible field makes it need one.
    let t = parse(&one("        a: \"{{ name ~ index }}\"\n")).unwrap();
    assert!(t.compile().unwrap().resource(0).is_total());
    let t = parse(&one("        a: \"{{ index % 2 }}\"\n")).unwrap();
    assert!(!t.compile().unwrap().resource(0).is_total());
}

#[test]
fn row_check_evaluates_the_fallible_fields() {
    let t = parse(&one("        a: \"{{ 6 // (4 - index) }}\"\n")).unwrap();
    let c = t.compile().unwrap();
    let mut check = c.resource(0).row_check();
    for i in 0..4 {
        check.row(&vars(i)).unwrap();
    }
    let e = t.row_error(check.row(&vars(4)).unwrap_err());
    assert!(
        e.to_string().starts_with(
            "template t.yaml:7:12: resources[0].template.properties.a: fails on row 4: "
        ),
        "{e}"
    );
}

fn atg_file(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data/templates/atg-formats")
        .join(name)
}

#[test]
fn atg_per_type_counts_format_loads_with_a_warning_per_ignored_key() {
    let p = atg_file("per-type-counts.yaml");
    let t = load_template(&p).unwrap();
    t.compile().unwrap();
    assert_eq!(t.total_count(), 69);
    assert_eq!(t.metadata.scale_target, Some(4161));
    let f = p.display();
    assert_eq!(
        t.warnings,
        [("batch_size", 39), ("max_parallel", 40), ("rate_limit_delay_ms", 41)]
            .map(|(k, l)| format!("warning: {f}:{l}: `config.{k}` is ignored: tenantgen writes import CSV in parts (--part-rows) and loads in Bolt batches (load --batch-size)"))
    );
}

#[test]
fn atg_patterns_format_becomes_a_replicate_section() {
    let p = atg_file("patterns.yaml");
    let t = load_template(&p).unwrap();
    t.compile().unwrap();
    assert!(t.resources.is_empty());
    assert_eq!(t.metadata.name.as_deref(), Some("atg-patterns"));
    let r = t.replicate.as_ref().unwrap();
    assert_eq!(r.scale_factor, Some(2.0));
    assert_eq!(
        r.types,
        [
            "Microsoft.Compute/virtualMachines",
            "Microsoft.Network/virtualNetworks",
            "Microsoft.Network/subnets",
            "Microsoft.Network/networkInterfaces"
        ]
    );
    let b = |min, max| CopyBounds { min, max };
    assert_eq!(
        r.per_type,
        [
            (
                "Microsoft.Compute/virtualMachines".to_string(),
                b(Some(1), Some(50))
            ),
            (
                "Microsoft.Network/virtualNetworks".to_string(),
                b(Some(1), Some(20))
            ),
        ]
    );
    assert_eq!(
        r.name_pattern.as_deref(),
        Some("scaled-{original_name}-{copy:03d}")
    );
    let f = p.display();
    assert_eq!(
        t.warnings,
        [
            format!("warning: {f}:17: `resource_patterns[3].clone_relationships` is false: tenantgen copies every relationship of a copied resource regardless"),
            format!("warning: {f}:25: `relationship_handling.update_references` is not implemented: tenantgen gives each copy a new id and name but leaves resource ids inside its properties as the base has them"),
        ]
    );
}

#[test]
fn atg_patterns_naming_and_relationship_flags_we_do_not_implement_warn() {
    let src = "scale_factor: 3\nresource_patterns:\n  - type: Microsoft.Compute/disks\nnaming_strategy:\n  prefix: x-\n  suffix_pattern: \"_{n}\"\n  preserve_location: false\nrelationship_handling:\n  clone_internal: false\n  clone_external: false\nextra_key: 1\n";
    let t = parse(src).unwrap();
    let r = t.replicate.unwrap();
    assert_eq!(r.name_pattern.as_deref(), Some("x-{original_name}-s{copy}"));
    let w = t.warnings.join("\n");
    for (line, key) in [
        (11, "`extra_key` is not a key of the ATG template format"),
        (7, "`naming_strategy.preserve_location` is false"),
        (
            6,
            "`naming_strategy.suffix_pattern` `_{n}` is not a pattern",
        ),
        (9, "`relationship_handling.clone_internal` is false"),
        (10, "`relationship_handling.clone_external` is false"),
    ] {
        assert!(
            w.contains(&format!("t.yaml:{line}: {key}")),
            "{key} at {line} in:\n{w}"
        );
    }
    assert_eq!(t.warnings.len(), 5);
}

#[test]
fn atg_friendly_format_maps_names_prefixes_and_ratios() {
    let p = atg_file("friendly.yaml");
    let t = load_template(&p).unwrap();
    t.compile().unwrap();
    let types: Vec<(&str, u64, &str)> = t
        .resources
        .iter()
        .map(|r| {
            (
                r.type_name.as_str(),
                r.count,
                r.template.name_pattern.as_str(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("Microsoft.Network/virtualNetworks", 2, "demo-vnet-{index}"),
            ("Microsoft.Network/subnets", 6, "demo-snet-{index}"),
            ("Microsoft.Compute/virtualMachines", 20, "demo-vm-{index}"),
        ]
    );
    assert_eq!(
        t.resources[2].template.properties["vmSize"],
        serde_json::json!("Standard_B2s")
    );
    let rules: Vec<(&str, &str, &str, f64)> = t
        .relationships
        .iter()
        .map(|r| {
            (
                r.source_type.as_str(),
                r.relationship_type.as_str(),
                r.target_type.as_str(),
                r.ratio(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            (
                "Microsoft.Network/subnets",
                "PART_OF",
                "Microsoft.Network/virtualNetworks",
                1.0
            ),
            (
                "Microsoft.Compute/virtualMachines",
                "USES_SUBNET",
                "Microsoft.Network/subnets",
                0.9
            ),
        ]
    );
    let f = p.display();
    assert_eq!(
        t.warnings,
        [
            format!("warning: {f}:8: `metadata.author` is informational: tenantgen does not record it in the output"),
            format!("warning: {f}:24: `resources[2].labels` asks for Compute: tenantgen labels every generated resource :Resource:Synthetic only"),
            format!("warning: {f}:40: `scaling.batch_size` is ignored: tenantgen writes import CSV in parts (--part-rows), and `load --batch-size` sets Bolt batches"),
            format!("warning: {f}:43: `validation` (check_duplicates, check_relationships, check_labels, check_properties) is not read: `tenantgen verify` (and `run`) checks node, label, type and relationship counts against the manifest"),
        ]
    );
}

#[test]
fn atg_friendly_format_errors_name_the_file_and_line() {
    let e = err("resources:\n  - type: Gizmo\n    count: 2\n    name_prefix: g\n");
    let s = e.to_string();
    assert!(s.starts_with("template t.yaml:2:"), "{s}");
    assert!(s.contains("`Gizmo` is not a friendly type name"), "{s}");
    let e = err("resources:\n  - type: VirtualMachine\n    count: 0\n    name_prefix: vm\n");
    assert!(
        e.to_string()
            .contains("resources[0].count must be a whole number"),
        "{e}"
    );
    // Without a prefix the name is the type's id prefix; no warnings for what we do.
    let t = parse("metadata: { author: a }\nresources:\n  - { type: virtualmachine, count: 1, labels: [Resource] }\nscaling: { strategy: proportional, maintain_relationships: true }\n").unwrap();
    assert_eq!(t.resources[0].template.name_pattern, "vm-{index}");
    assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
}

#[test]
fn own_format_typos_still_fail() {
    let e = err("resources:\n  - type: Microsoft.Compute/disks\n    count: 1\n    template: { name_pattern: d, nmae: x }\n");
    assert!(e.to_string().contains("unknown field `nmae`"), "{e}");
    let e = err("metdata: {}\nresources: []\n");
    assert!(e.to_string().contains("unknown field `metdata`"), "{e}");
}
