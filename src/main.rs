// mimalloc: the request path makes many small short-lived allocations
// (JSON fields, rows, response bodies); glibc's malloc/free were ~13% of the
// service's CPU under load (BENCHMARKS.md, "Where the time goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    touchpoint::cli::main()
}
