//! tenantgen: big, realistic, reproducible Azure tenant graphs for Neo4j.
//!
//! The modules follow the pipeline: [`template`] and [`baseline`] are read, [`plan`] decides what
//! to make, [`generate`] makes the rows and [`write`] puts them on disk; [`import`] and [`load`]
//! bring them into Neo4j, [`verify`] checks the live graph. [`export`] reads a live graph into a
//! baseline, [`neo4j`] owns the server and the Bolt client, [`cli`] ties the stages to the flags.

pub mod baseline;
pub mod clean;
pub mod cli;
pub mod config;
pub mod cypher;
pub mod export;
pub mod format;
pub mod generate;
pub mod import;
pub mod load;
pub mod manifest;
pub mod neo4j;
pub mod outdir;
pub mod plan;
pub mod report;
pub mod stats;
pub mod template;
pub mod verify;
pub mod write;
