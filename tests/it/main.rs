//! Integration tests: the service against a real ClickHouse server.
//! One binary, so the suite links once and shares one server.

mod browser;
mod capture;
mod catalog;
mod dashboards;
mod cli;
mod example_config;
mod health;
mod journeys_api;
mod migrations;
mod openapi;
mod staff;
mod widget;
mod email;
mod support;
