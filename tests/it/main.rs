//! Integration tests: the service against a real ClickHouse server.
//! One binary, so the suite links once and shares one server.

mod admin;
mod browser;
mod calendar;
mod capture;
mod case_queue;
mod cases;
mod catalog;
mod cli;
mod cluster;
mod dashboards;
mod dossiers;
mod email;
mod error_shape;
mod exactly_once;
mod example_config;
mod follow;
mod health;
mod hostile;
mod journeys_api;
mod login_throttle;
mod metrics;
mod migrations;
mod notify;
mod openapi;
mod page_headers;
mod recommendations;
mod register;
mod roles;
mod rollup_repair;
mod slow_clients;
mod spool;
mod staff;
mod support;
mod timeouts;
mod widget;
