//! Binary coverage data (`GOCOVERDIR`): every output compared byte for byte with what
//! `go tool covdata` printed for the same directories (`scripts/gen-cover-covdata-fixtures.sh`).

use std::fmt::Write as _;
use std::path::PathBuf;

use slipway_cover::covdata::{
    self, CounterFile, CounterFlavor, CounterMode, MetaFile, ModePolicy, Operation, PackageFilter,
    ReadOptions,
};
use slipway_cover::{Mode, Profile, Summary};

fn base() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/covdata")
}

fn data_dir() -> String {
    base().join("data").to_string_lossy().into_owned()
}

fn read_out(name: &str) -> Option<String> {
    std::fs::read_to_string(base().join("out").join(name)).ok()
}

/// `DIR,DIR` relative to data/ (as the script ran Go) to absolute paths.
fn dirs(list: &str) -> Vec<String> {
    list.split(',')
        .map(|d| format!("{}/{d}", data_dir()))
        .collect()
}

/// Messages name files as `<dir>/<file>`; Go ran in data/ with relative directories.
fn relative(message: &str) -> String {
    message.replace(&format!("{}/", data_dir()), "")
}

struct Case {
    name: String,
    dirs: String,
    pkg: Option<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(base().join("cases.txt")).unwrap();
    text.lines()
        .map(|line| {
            let mut fields = line.split('\t');
            Case {
                name: fields.next().unwrap().to_owned(),
                dirs: fields.next().unwrap().to_owned(),
                pkg: fields.next().map(str::to_owned),
            }
        })
        .collect()
}

/// What our reader gives for one case and command: (output, stderr, failed).
fn run(case: &Case, cmd: &str) -> (String, String, bool) {
    let policy = if cmd == "textfmt" {
        ModePolicy::Strict
    } else {
        ModePolicy::Relaxed
    };
    let mut options = ReadOptions::default().policy(policy);
    if let Some(pkg) = &case.pkg {
        options = options.packages(PackageFilter::new(pkg).unwrap());
    }
    match covdata::read_dirs(&dirs(&case.dirs), &options) {
        Ok(data) => {
            let out = match cmd {
                "func" => data.func_text(),
                "percent" => data.percent_text(),
                _ => data.textfmt(),
            };
            let mut err = String::new();
            for w in data.warnings() {
                writeln!(err, "warning: {w}").unwrap();
            }
            (out, err, false)
        }
        Err(e) => (String::new(), relative(&format!("error: {e}\n")), true),
    }
}

#[test]
fn func_percent_and_textfmt_match_go_tool_covdata_byte_for_byte() {
    let mut compared = 0;
    let mut lines = 0;
    for case in cases() {
        for cmd in ["func", "percent", "textfmt"] {
            let key = format!("{}.{cmd}", case.name);
            let (out, err, failed) = run(&case, cmd);
            let want_failed = read_out(&format!("{key}.rc")).is_some();
            assert_eq!(failed, want_failed, "{key}: {err}");
            let want_err = read_out(&format!("{key}.err")).unwrap_or_default();
            if !want_err.is_empty() || !err.is_empty() {
                // Go prints `error: ` twice for errors met while reading input; the message is the same.
                let want_err = want_err
                    .replace("error: error: ", "error: ")
                    .replace("\n\n", "\n");
                assert_eq!(err, want_err, "{key} stderr");
            }
            let want = read_out(&key).unwrap_or_default();
            assert_eq!(out, want, "{key}");
            compared += 1;
            lines += want.lines().count();
        }
    }
    // 14 cases, 3 commands each.
    assert_eq!(compared, 42);
    assert!(lines > 600, "{lines} lines compared");
}

#[test]
fn subtract_and_intersect_match_go_tool_covdata() {
    let text = std::fs::read_to_string(base().join("ops.txt")).unwrap();
    let mut compared = 0;
    for line in text.lines() {
        let [name, op, list] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("bad ops line {line:?}");
        };
        let operation = match op {
            "subtract" => Operation::Subtract,
            "intersect" => Operation::Intersect,
            other => panic!("unknown op {other}"),
        };
        let data =
            covdata::read_dirs(&dirs(list), &ReadOptions::default().operation(operation)).unwrap();
        assert_eq!(
            data.textfmt(),
            read_out(&format!("{name}.textfmt")).unwrap(),
            "{name}"
        );
        compared += 1;
    }
    assert_eq!(compared, 5);
}

/// The text profile conversion agrees with Go's textfmt output read as a profile, so every summary and
/// export of the crate works on binary data too.
#[test]
fn converts_to_the_text_profile_go_writes() {
    for case in ["set-ab", "count-ab", "atomic-a", "test-count", "count-test"] {
        let c = cases().into_iter().find(|c| c.name == case).unwrap();
        let data = covdata::read_dirs(&dirs(&c.dirs), &ReadOptions::default()).unwrap();
        let profile = data.to_profile().unwrap();
        let want = Profile::parse(case, &read_out(&format!("{case}.textfmt")).unwrap()).unwrap();
        assert_eq!(profile, want, "{case}");
        // percent's per-package numbers are the statement summary of that profile (packages with
        // statements only; Go prints the others without a number).
        let summary = Summary::of(&profile);
        let mut text = String::new();
        for (pkg, counts) in &summary.packages {
            writeln!(text, "\t{pkg}\t\t{}", counts.go_test_line()).unwrap();
        }
        let percent = read_out(&format!("{case}.percent")).unwrap();
        let percent = percent.replace("\texample.com/covd/consts\t\t", "");
        assert_eq!(text, percent, "{case}");
    }
}

#[test]
fn decodes_meta_and_counter_files() {
    let dir = base().join("data/count-a");
    let mut metas = 0;
    let mut counters = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        if name.starts_with("covmeta.") {
            let meta = MetaFile::decode(&name, &bytes).unwrap();
            assert_eq!(meta.mode, CounterMode::Count);
            assert_eq!(format!("covmeta.{}", hex(&meta.hash)), name);
            let paths: Vec<&str> = meta.packages.iter().map(|p| p.path.as_str()).collect();
            for want in [
                "example.com/covd/calc",
                "example.com/covd/consts",
                "example.com/covd/untested",
                "example.com/covd/cmd/app",
            ] {
                assert!(paths.contains(&want), "{paths:?}");
            }
            let calc = meta
                .packages
                .iter()
                .find(|p| p.path == "example.com/covd/calc")
                .unwrap();
            assert_eq!(calc.name, "calc");
            assert_eq!(calc.module_path, "example.com/covd");
            let names: Vec<&str> = calc.funcs().map(|f| f.name).collect();
            assert!(names.contains(&"*Acc.Add"), "{names:?}");
            assert!(names.contains(&"Acc.Total"), "{names:?}");
            assert!(
                calc.funcs()
                    .any(|f| f.literal && f.name.starts_with("func.L"))
            );
            metas += 1;
        } else {
            let file = CounterFile::decode(&name, &bytes).unwrap();
            assert_eq!(file.flavor, CounterFlavor::Uleb128);
            assert_eq!(file.segments.len(), 1);
            assert!(name.contains(&hex(&file.meta_hash)));
            let seg = &file.segments[0];
            assert!(seg.func_count() > 0);
            assert!(
                seg.os_args()[0].ends_with("app-count"),
                "{:?}",
                seg.os_args()
            );
            counters += 1;
        }
    }
    assert_eq!((metas, counters), (1, 4));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}

/// Truncating or flipping bytes of real files gives errors naming the file and an offset, never a panic.
#[test]
fn damaged_files_give_errors_with_offsets() {
    let dir = base().join("data/count-a");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let decode = |b: &[u8]| -> Result<(), covdata::Error> {
            if name.starts_with("covmeta.") {
                MetaFile::decode(&name, b).map(drop)
            } else {
                CounterFile::decode(&name, b).map(drop)
            }
        };
        for len in 0..bytes.len() {
            if let Err(e) = decode(&bytes[..len]) {
                assert!(
                    e.to_string().starts_with(&format!("{name}: offset ")),
                    "{e}"
                );
            }
        }
        assert!(decode(&bytes[..bytes.len() / 2]).is_err());
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xff;
            let _ = decode(&b);
        }
    }
    let err = MetaFile::decode("m", b"\0cvm\x01\0\0\0")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "m: offset 8: header total length: need 8 bytes, only 0 left"
    );
    let err = CounterFile::decode("c", &[0u8; 64])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "c: offset 0: invalid magic string: not a counter data file"
    );
}

/// A meta-data file counted as a text profile in every mode the fixtures hold.
#[test]
fn modes_map_to_profile_modes() {
    for (case, mode) in [
        ("set-a", Mode::Set),
        ("count-a", Mode::Count),
        ("atomic-a", Mode::Atomic),
    ] {
        let data = covdata::read_dirs(&dirs(case), &ReadOptions::default()).unwrap();
        assert_eq!(data.to_profile().unwrap().mode(), Some(mode));
    }
}

/// Data made now, by the Go toolchain installed here, from the fixture module: a binary built with
/// `-cover` in atomic mode (not among the committed fixtures) run with different arguments into two
/// directories, compared with `go tool covdata` run now.
#[test]
fn fresh_data_matches_go_tool_covdata_run_now() {
    use slipway_testkit::{go, run_ok};
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("app");
    run_ok(
        go().current_dir(base().join("src"))
            .args([
                "build",
                "-cover",
                "-covermode=atomic",
                "-coverpkg=./cmd/app,./calc",
                "-o",
            ])
            .arg(&bin)
            .arg("./cmd/app"),
    );
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (dir, args) in [(&a, "lines"), (&a, "greet"), (&b, "sqrt"), (&b, "")] {
        std::fs::create_dir_all(dir).unwrap();
        // Some paths end in os.Exit(3): the status does not matter, the data does.
        let _ = std::process::Command::new(&bin)
            .args(args.split_whitespace())
            .env("GOCOVERDIR", dir)
            .output()
            .unwrap();
    }
    let list = format!("{},{}", a.display(), b.display());
    let dirs: Vec<&str> = list.split(',').collect();
    for cmd in ["func", "percent", "textfmt"] {
        let policy = if cmd == "textfmt" {
            ModePolicy::Strict
        } else {
            ModePolicy::Relaxed
        };
        let data = covdata::read_dirs(&dirs, &ReadOptions::default().policy(policy)).unwrap();
        let (got, want) = if cmd == "textfmt" {
            let out = tmp.path().join("go.txt");
            run_ok(
                go().args(["tool", "covdata", "textfmt", &format!("-i={list}")])
                    .arg(format!("-o={}", out.display())),
            );
            (data.textfmt(), std::fs::read_to_string(&out).unwrap())
        } else {
            let out = run_ok(go().args(["tool", "covdata", cmd, &format!("-i={list}")]));
            (
                match cmd {
                    "func" => data.func_text(),
                    _ => data.percent_text(),
                },
                String::from_utf8(out.stdout).unwrap(),
            )
        };
        assert_eq!(got, want, "{cmd}");
        assert!(want.lines().count() >= 2, "{cmd}: {want}");
    }
}

/// Sparse files of 2 GiB: decoding must not cost memory in proportion to their size or to a length they
/// declare. Each check runs in a child process under `ulimit -v` (1 GiB of address space), so reading a
/// whole file into memory fails the test instead of merely slowing it down.
#[cfg(unix)]
#[test]
fn sparse_files_are_read_within_a_memory_limit() {
    for test in [
        "sparse_counter_file_is_read_up_to_its_first_segment",
        "sparse_counter_file_declaring_more_counters_than_units_is_refused",
        "sparse_meta_file_with_another_declared_length_is_refused",
        "sparse_counter_file_with_a_huge_string_table_is_refused",
    ] {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
            .arg(exe)
            .args(["--exact", "--ignored", "--test-threads=1", "--nocapture"])
            .arg(format!("covdata::{test}"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{test} under a 1 GiB limit: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

const SPARSE_LEN: u64 = 2 << 30;

/// A pod of count-a's meta-data file and one counter-data file written here (raw counters): one
/// segment with no arguments and one function record `(nc, package, func)` followed by `counters`, the
/// file then made `SPARSE_LEN` long with its footer at the end. Returns the directory, the counter
/// file's name, the record's offset and the `(package, func, units)` of the first function with units.
fn sparse_pod(
    dir: &std::path::Path,
    nc: impl FnOnce(usize) -> u32,
    counters: impl FnOnce(usize) -> Vec<u32>,
) -> (String, usize, (u32, u32, usize)) {
    use std::io::{Seek, SeekFrom, Write};
    let src = base().join("data/count-a");
    let meta_name = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with("covmeta."))
        .unwrap();
    let meta_bytes = std::fs::read(src.join(&meta_name)).unwrap();
    std::fs::write(dir.join(&meta_name), &meta_bytes).unwrap();
    let meta = MetaFile::decode(&meta_name, &meta_bytes).unwrap();
    let (package, func, units) = meta
        .packages
        .iter()
        .enumerate()
        .find_map(|(p, pkg)| {
            pkg.funcs()
                .enumerate()
                .find(|(_, f)| !f.units.is_empty())
                .map(|(f, fm)| {
                    (
                        u32::try_from(p).unwrap(),
                        u32::try_from(f).unwrap(),
                        fm.units.len(),
                    )
                })
        })
        .unwrap();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"\0cwm");
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&meta.hash);
    bytes.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]); // raw flavor, little-endian, padding
    bytes.extend_from_slice(&1u64.to_le_bytes()); // one function
    bytes.extend_from_slice(&1u32.to_le_bytes()); // string table: one byte (no strings)
    bytes.extend_from_slice(&1u32.to_le_bytes()); // args: one byte (no entries)
    bytes.extend_from_slice(&[0, 0, 0, 0]); // the two tables, then padding to 52
    let record_at = bytes.len();
    for v in [nc(units), package, func] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    for c in counters(units) {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    let name = format!("{}.1.1", meta_name.replace("covmeta.", "covcounters."));
    let mut file = std::fs::File::create(dir.join(&name)).unwrap();
    file.write_all(&bytes).unwrap();
    file.set_len(SPARSE_LEN).unwrap();
    file.seek(SeekFrom::Start(SPARSE_LEN - 16)).unwrap();
    file.write_all(b"\0cwm\0\0\0\0\x01\0\0\0\0\0\0\0").unwrap();
    (name, record_at, (package, func, units))
}

#[test]
#[ignore = "run by sparse_files_are_read_within_a_memory_limit under ulimit -v"]
fn sparse_counter_file_is_read_up_to_its_first_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, _, (package, func, units)) = sparse_pod(
        tmp.path(),
        |units| u32::try_from(units).unwrap(),
        |units| vec![7; units],
    );
    let dir = tmp.path().to_string_lossy().into_owned();
    let data = covdata::read_dirs(&[dir], &ReadOptions::default()).unwrap();
    let meta = MetaFile::decode(
        "m",
        &std::fs::read(
            std::fs::read_dir(tmp.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().contains("covmeta."))
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let pkg = &meta.packages[package as usize];
    let name = pkg.func(func as usize).unwrap().name;
    let counted: Vec<u32> = data
        .units(&pkg.path)
        .iter()
        .filter(|u| u.func == name)
        .map(|u| u.count)
        .collect();
    assert_eq!(counted, vec![7; units]);
}

#[test]
#[ignore = "run by sparse_files_are_read_within_a_memory_limit under ulimit -v"]
fn sparse_counter_file_declaring_more_counters_than_units_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (name, record_at, (package, func, units)) =
        sparse_pod(tmp.path(), |_| 400_000_000, |_| Vec::new());
    let dir = tmp.path().to_string_lossy().into_owned();
    let err = covdata::read_dirs(&[&dir], &ReadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{dir}/{name}: offset {record_at}: function counter count: 400000000 counters for package \
             {package} function {func}, which has {units} units in the meta-data file"
        )
    );
}

#[test]
#[ignore = "run by sparse_files_are_read_within_a_memory_limit under ulimit -v"]
fn sparse_meta_file_with_another_declared_length_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    sparse_pod(
        tmp.path(),
        |units| u32::try_from(units).unwrap(),
        |units| vec![1; units],
    );
    let meta = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("covmeta."))
        .unwrap();
    let declared = std::fs::metadata(&meta).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&meta)
        .unwrap()
        .set_len(SPARSE_LEN)
        .unwrap();
    let dir = tmp.path().to_string_lossy().into_owned();
    let err = covdata::read_dirs(&[&dir], &ReadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{dir}/{}: offset 8: header total length: {declared} bytes declared, but the file has {SPARSE_LEN}",
            meta.file_name().unwrap().to_string_lossy()
        )
    );
}

#[test]
#[ignore = "run by sparse_files_are_read_within_a_memory_limit under ulimit -v"]
fn sparse_counter_file_with_a_huge_string_table_is_refused() {
    use std::io::{Seek, SeekFrom, Write};
    let tmp = tempfile::tempdir().unwrap();
    let (name, _, _) = sparse_pod(
        tmp.path(),
        |units| u32::try_from(units).unwrap(),
        |units| vec![1; units],
    );
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(tmp.path().join(&name))
        .unwrap();
    file.seek(SeekFrom::Start(40)).unwrap();
    file.write_all(&(1u32 << 30).to_le_bytes()).unwrap();
    let dir = tmp.path().to_string_lossy().into_owned();
    let err = covdata::read_dirs(&[&dir], &ReadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{dir}/{name}: offset 40: segment string table: 1073741824 bytes declared, more than the \
             limit of {}",
            covdata::MAX_SEGMENT_STRINGS
        )
    );
}
