//! The committed `schema.graphql` is what the server serves: third-party front ends build against it, so
//! a change to the API must show up as a reviewed change to that file.

#[test]
fn the_committed_schema_matches_the_generated_one() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))
            .unwrap_or_default();
    let generated = fengqiao::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date: run `cargo run -p fengqiao -- print-schema > schema.graphql` and review the diff"
    );
}
