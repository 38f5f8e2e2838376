//! touchpoint: client ratings and time spent at every touchpoint of a public
//! service's journey, collected over HTTP and stored in ClickHouse.

pub mod accounts;
pub mod admin;
pub mod capture;
pub mod cases;
pub mod cli;
pub mod config;
pub mod dashboards;
pub mod deadline;
pub mod domain;
pub mod dossiers;
pub mod error;
pub mod extract;
pub mod follow;
pub mod front;
pub mod health;
pub mod ingest;
pub mod journeys;
pub mod metrics;
pub mod notify;
pub mod official;
pub mod openapi;
pub mod recommendations;
pub mod register;
pub mod report;
pub mod seed;
pub mod server;
pub mod signed;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod web;
pub mod widget;

pub use startup::{AppState, Application, app};
