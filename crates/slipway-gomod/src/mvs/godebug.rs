//! cmd/go's `CheckGodebug`: the `godebug` lines of a main go.mod (outside workspaces) and of a go.work
//! must name a setting the toolchain knows, with a value it accepts.

use crate::version;

/// The settings `internal/godebugs.All` lists in Go 1.27 (sorted, as go's binary search needs them).
const KNOWN: &[&str] = &[
    "allowmultiplevcs",
    "containermaxprocs",
    "cryptocustomrand",
    "dataindependenttiming",
    "decoratemappings",
    "embedfollowsymlinks",
    "execerrdot",
    "fips140",
    "fips140ems",
    "gocachehash",
    "gocachetest",
    "gocacheverify",
    "gotestjsonbuildtext",
    "htmlmetacontenturlescape",
    "http2client",
    "http2debug",
    "http2server",
    "httpcookiemaxnum",
    "httplaxcontentlength",
    "httpmuxgo121",
    "httpservecontentkeepheaders",
    "httpservecontentmaxranges",
    "installgoroot",
    "jstmpllitinterp",
    "multipartmaxheaders",
    "multipartmaxparts",
    "multipathtcp",
    "netdns",
    "netedns0",
    "panicnil",
    "randautoseed",
    "randseednop",
    "rsa1024min",
    "tarinsecurepath",
    "tlsmaxrsasize",
    "tlsmlkem",
    "tlssecpmlkem",
    "tlssha1",
    "tracebacklabels",
    "updatemaxprocs",
    "urlmaxqueryparams",
    "urlstrictcolons",
    "winreadlinkvolume",
    "winsymlink",
    "x509negativeserial",
    "x509rsacrt",
    "x509sha256skid",
    "x509sslcertoverrideplatform",
    "x509usefallbackroots",
    "x509usepolicies",
    "zipinsecurepath",
];

/// `internal/godebugs.Removed`: name, the Go minor version that removed it, and its "old" values (which
/// are refused; any other value of a removed setting is accepted).
const REMOVED: &[(&str, u32, &[&str])] = &[
    ("x509sha1", 24, &["1"]),
    ("tlskyber", 24, &["0"]),
    ("gotypesalias", 27, &["0"]),
    ("tlsunsafeekm", 27, &["1"]),
    ("tlsrsakex", 27, &["1"]),
    ("tls3des", 27, &["1"]),
    ("tls10server", 27, &["1"]),
    ("x509keypairleaf", 27, &["0"]),
    ("asynctimerchan", 27, &["1", "2"]),
];

/// Checks one `key=value` as `CheckGodebug(verb, key, value)` does for a toolchain at `go_version`;
/// the error is go's text.
pub(crate) fn check(verb: &str, key: &str, value: &str, go_version: &str) -> Result<(), String> {
    let has = |s: &str, set: &[char]| s.contains(set);
    if has(key, &[' ', '\t']) {
        return Err("key contains space".to_owned());
    }
    if has(value, &[' ', '\t']) {
        return Err("value contains space".to_owned());
    }
    if key.contains(',') {
        return Err("key contains comma".to_owned());
    }
    if value.contains(',') {
        return Err("value contains comma".to_owned());
    }
    if key == "default" {
        let Some(v) = value.strip_prefix("go").filter(|v| version::is_valid_go(v)) else {
            return Err("value for default= must be goVERSION".to_owned());
        };
        if version::compare_go(v, go_version).is_gt() {
            return Err(format!(
                "default={value} too new (toolchain is go{go_version})"
            ));
        }
        return Ok(());
    }
    if KNOWN.binary_search(&key).is_ok() {
        return Ok(());
    }
    if let Some((_, removed, old)) = REMOVED.iter().find(|(name, _, _)| *name == key) {
        if old.contains(&value) {
            return Err(format!(
                "removed GODEBUG {} set to old value {} (https://go.dev/doc/godebug#go-1{removed})",
                go_quote(key),
                go_quote(value)
            ));
        }
        return Ok(());
    }
    Err(format!("unknown {verb} {}", go_quote(key)))
}

// Go's %q: keys and values were unquoted from the file, so they may hold any character.
fn go_quote(s: &str) -> String {
    crate::modfile::chars::quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(KNOWN.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn answers_as_check_godebug() {
        let go = "1.27.3";
        assert_eq!(check("godebug", "panicnil", "1", go), Ok(()));
        assert_eq!(
            check("godebug", "foo", "1", go),
            Err(r#"unknown godebug "foo""#.to_owned())
        );
        assert_eq!(check("godebug", "default", "go1.21", go), Ok(()));
        assert_eq!(
            check("godebug", "default", "go1.30", go),
            Err("default=go1.30 too new (toolchain is go1.27.3)".to_owned())
        );
        assert_eq!(
            check("godebug", "default", "1.21", go),
            Err("value for default= must be goVERSION".to_owned())
        );
        assert_eq!(check("godebug", "x509sha1", "0", go), Ok(()));
        assert_eq!(
            check("godebug", "asynctimerchan", "2", go),
            Err(
                r#"removed GODEBUG "asynctimerchan" set to old value "2" (https://go.dev/doc/godebug#go-127)"#
                    .to_owned()
            )
        );
        assert_eq!(
            check("godebug", "a,b", "1", go),
            Err("key contains comma".to_owned())
        );
    }
}
