//! tenantgen: big, realistic, reproducible Azure tenant graphs for Neo4j.
//!
//! The modules follow the pipeline: [`template`] and [`baseline`] are read, [`config`] holds the
//! validated settings, [`plan`] decides what to make, [`generate`] makes the rows and
//! [`mod@write`] puts them on disk ([`shards`] puts a sharded run back together); [`import`] and [`load`] bring them into Neo4j, [`verify`]
//! checks the live graph, [`stats`] and [`clean`] report on and remove operations. [`export`]
//! reads a live graph into a baseline. What several stages share has one home: [`mod@format`] (the
//! CSV dialect and header files), [`outdir`] (the staged output directory), [`cypher`] (the
//! graph's domain rules in Cypher), [`neo4j`] (the server and the Bolt client) and [`report`]
//! (numbers, progress, summaries). [`cli`] ties the stages to the flags; [`manifest`] is the
//! contract between a generated directory and every consumer.

pub mod baseline;
pub mod clean;
pub mod cli;
pub mod config;
pub mod cypher;
pub mod export;
pub mod fixture;
pub mod format;
pub mod generate;
pub mod import;
pub mod interrupt;
pub mod load;
pub mod manifest;
pub mod neo4j;
pub mod outdir;
pub mod plan;
pub mod report;
pub mod shards;
pub mod stats;
pub mod template;
pub mod verify;
pub mod write;
