//! wrk, the lean load generator: one thread of C and LuaJIT, so that the
//! service's own limit shows, not the client's (a reqwest client on the same
//! two cores reported 0.64x where wrk measured 0.45x).

use std::path::Path;
use std::process::Command;

/// What one wrk run reported.
#[derive(Debug, Default)]
pub struct Run {
    pub requests: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers that were not 2xx (503s under overload).
    pub non_2xx: u64,
    pub socket_errors: u64,
}

impl Run {
    /// Requests answered 2xx: for the capture routes, 202s.
    pub fn accepted(&self) -> u64 {
        self.requests.saturating_sub(self.non_2xx + self.socket_errors)
    }
}

/// Installs wrk from Debian's packages when it is missing.
pub fn ensure() {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return;
    }
    let deps = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/deps.sh");
    let ok = Command::new("bash").args(["-c", &format!(". {deps} && ensure_wrk")]).status().is_ok_and(|s| s.success());
    assert!(ok, "wrk is missing and could not be installed (apt-get install wrk)");
}

/// A Lua script whose every request posts `events` events, each the JSON
/// `template` with `EVENT_ID` replaced by an id unique to the run: a random
/// prefix per run and a counter, so no Lua time goes into randomness.
pub fn script(dir: &Path, name: &str, template: &str, events: usize) -> std::path::PathBuf {
    script_cycle(dir, name, &[template], events)
}

/// As [`script`], each request taking the next of `templates` in turn (a mix
/// of ratings: one in five opening a case, say).
pub fn script_cycle(dir: &Path, name: &str, templates: &[&str], events: usize) -> std::path::PathBuf {
    let bodies: Vec<String> = templates
        .iter()
        .map(|t| {
            let (before, after) = t.split_once("EVENT_ID").expect("the template holds EVENT_ID");
            format!("{{[[{before}]], [[{after}]]}}")
        })
        .collect();
    let lua = format!(
        r#"math.randomseed(os.time())
local prefix = string.format("%08x-%04x-4%03x-8%03x-", math.random(0, 0x7fffffff), math.random(0, 0xffff), math.random(0, 0xfff), math.random(0, 0xfff))
local n, r = 0, 0
local templates = {{{}}}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  r = r + 1
  local t = templates[(r - 1) % #templates + 1]
  local parts = {{}}
  for i = 1, {events} do
    n = n + 1
    parts[i] = t[1] .. prefix .. string.format("%012x", n) .. t[2]
  end
  local body = parts[1]
  if {events} > 1 then body = "[" .. table.concat(parts, ",") .. "]" end
  return wrk.format(nil, nil, nil, body)
end
"#,
        bodies.join(", ")
    );
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, lua).unwrap();
    path
}

/// Runs wrk with one thread and `connections` connections for `seconds`.
pub fn run(url: &str, script: &Path, connections: usize, seconds: u64) -> Run {
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    parse(&text)
}

fn parse(text: &str) -> Run {
    let mut run = Run::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => run.p50_ms = ms(v),
            ["99%", v] => run.p99_ms = ms(v),
            [n, "requests", "in", ..] => run.requests = n.parse().unwrap_or(0),
            ["Requests/sec:", v] => run.per_second = v.parse().unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => run.non_2xx = n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                run.socket_errors = rest.iter().filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok()).sum();
            }
            _ => {}
        }
    }
    run
}

/// wrk's durations: `635.00us`, `1.23ms`, `2.01s`.
fn ms(value: &str) -> f64 {
    let (number, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(value.len()));
    let n: f64 = number.parse().unwrap_or(0.0);
    match unit {
        "us" => n / 1000.0,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => n,
    }
}
