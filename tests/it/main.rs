//! Fengqiao's integration tests: one binary. Every test spawns the real server on a free port against
//! its own database (a fresh SQLite file, or the PostgreSQL named by `TEST_DATABASE_URL`) and creates its
//! own county, so tests run in parallel and isolation is exercised for free. `REDIS_URL` switches the cache
//! to Redis.

// Test code may unwrap, and reads the wall clock to build deadlines relative to the server's clock,
// which follows it (shifted only where a test advances it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod accounts;
mod audit;
mod auth;
mod batching;
mod browser;
mod closed_loop;
mod commands;
mod demo;
mod effects;
mod errors;
mod grids;
mod helpers;
mod hostile;
mod isolation;
mod layers;
mod live;
mod masking;
mod migrations;
mod outages;
mod over_http;
mod pii;
mod proof;
mod rate_limits;
mod relay;
mod replicas;
mod rls;
mod rollups;
mod schema;
mod search;
mod second_factor;
mod sessions;
mod steps;
mod store;
mod tokens;
mod units;
