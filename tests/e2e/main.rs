//! The single integration-test binary: end-to-end tests against real tools (Neo4j). Each area is
//! a submodule; add yours with a `mod` line.

mod bench_smoke;
mod common;
mod environment;
mod errors;
mod export;
mod fixture;
mod generate;
mod instance;
mod json;
mod load;
mod matrix;
mod neo4j_smoke;
mod roundtrip;
mod run;
mod safety;
mod shape;
mod shards;
mod signals;
mod verify;
