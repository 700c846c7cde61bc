//! A self-contained HTML report: what `go tool cover -html` shows, plus per-package tables.
//!
//! One file, no external assets: inline CSS, and a few lines of inline JavaScript for the file picker
//! (without JavaScript every file is shown one after the other). Each file's source is highlighted the
//! way `go tool cover -html` highlights it (its `cover.Profile.Boundaries` rules):
//! - a block's text is wrapped in `<span class="covN" title="COUNT">`; text outside every block is not
//!   tracked and keeps the default colour;
//! - `cov0` is a block that never ran; in `set` mode (every count at most 1) a block that ran is `cov8`;
//!   otherwise the class is `floor(9 * ln(count) / ln(max)) + 1` (1 to 10), `max` being the file's
//!   highest count, so intensity grows with the logarithm of the count;
//! - block positions are matched against source positions exactly as Go matches them (including Go's
//!   quirk of starting line 1 at column 2).
//!
//! Where Go's output would have unbalanced tags (overlapping or malformed blocks, a profile that does not
//! match the source), this writer keeps them balanced: a block end closes a span only when one is open,
//! and spans still open at the end of the file are closed there. Source text is HTML-escaped (`&`, `<`,
//! `>`, `"`); tabs are kept (and shown 8 wide by CSS) rather than expanded, so copied code stays intact.
//! Invalid UTF-8 in a source file is shown as U+FFFD. Output is deterministic: no timestamps.

use std::fmt;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Coverage, ReportWriter};
use crate::profile::{FileProfile, package_of};
use crate::resolve::SourceResolver;
use crate::summary::{Counts, Summary};

/// HTML report writer; reads each file's source through a [`SourceResolver`].
///
/// ```
/// use slipway_cover::{Coverage, Html, MemoryResolver, Profile, ReportWriter};
///
/// let source = "package p\n\nfunc F(x int) {\n\tif x < 0 {\n\t\tpanic(x)\n\t}\n}\n";
/// let profile = Profile::parse("c.out", "mode: set\nm/p/p.go:4.2,4.11 1 1\nm/p/p.go:4.11,6.3 1 0\n")?;
/// let resolver = MemoryResolver::new().with_file("m/p/p.go", source);
/// let mut out = Vec::new();
/// Html::new(&resolver).write_report(&Coverage::new(profile, &resolver)?, &mut out)?;
/// let page = String::from_utf8(out)?;
/// assert!(page.contains(
///     "\t<span class=\"cov8\" title=\"1\">if x &lt; 0 </span><span class=\"cov0\" title=\"0\">{\n\t\tpanic(x)\n\t}</span>\n}"
/// ));
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct Html<'a> {
    resolver: &'a dyn SourceResolver,
    title: Option<&'a str>,
}

impl fmt::Debug for Html<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Html")
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

impl<'a> Html<'a> {
    /// A writer that reads sources through `resolver` (usually the one the [`Coverage`] was made with).
    pub fn new(resolver: &'a dyn SourceResolver) -> Self {
        Html {
            resolver,
            title: None,
        }
    }

    /// Sets the page title (default: `PKG: Go Coverage Report`, as Go names it, `PKG` being the last
    /// element of the first file's package).
    #[must_use]
    pub fn title(mut self, title: &'a str) -> Self {
        self.title = Some(title);
        self
    }
}

/// One start or end of a block in a source file, as Go's `cover.Boundary`.
#[derive(Debug, Clone, Copy)]
struct Boundary {
    offset: usize,
    start: bool,
    count: u64,
    /// The CSS class number (0 to 10) for a start.
    class: u32,
}

/// Go's `Profile.Boundaries` followed by `htmlGen`'s class choice.
fn boundaries(file: &FileProfile, src: &[u8]) -> Vec<Boundary> {
    let max = file.blocks.iter().map(|b| b.count).max().unwrap_or(0);
    // u64 -> f64 only loses precision far beyond any real count, where the log barely moves.
    #[allow(clippy::cast_precision_loss)]
    let divisor = (max as f64).ln();
    let class = |count: u64| -> u32 {
        if count == 0 {
            return 0;
        }
        let norm = if max <= 1 {
            0.8
        } else {
            #[allow(clippy::cast_precision_loss)]
            let c = count as f64;
            c.ln() / divisor
        };
        // norm is within 0..=1, so the class is within 1..=10.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = (norm * 9.0).floor().clamp(0.0, 9.0) as u32;
        n + 1
    };
    let mut out = Vec::new();
    // Go starts line 1 at column 2; no real block starts on line 1 (the package clause), so it only
    // matters for hand-made profiles, where matching Go is the point.
    let (mut line, mut col) = (1u32, 2u32);
    let (mut si, mut bi) = (0usize, 0usize);
    while si < src.len() && bi < file.blocks.len() {
        let b = &file.blocks[bi];
        if b.start_line == line && b.start_col == col {
            out.push(Boundary {
                offset: si,
                start: true,
                count: b.count,
                class: class(b.count),
            });
        }
        if (b.end_line == line && b.end_col == col) || line > b.end_line {
            out.push(Boundary {
                offset: si,
                start: false,
                count: 0,
                class: 0,
            });
            bi += 1;
            // The next block may start where this one ends.
            continue;
        }
        if src[si] == b'\n' {
            line += 1;
            col = 0;
        }
        col += 1;
        si += 1;
    }
    // A stable sort by offset keeps the order of discovery among equal offsets, as Go's Index does.
    out.sort_by_key(|b| b.offset);
    out
}

/// The highlighted source of one file (the inside of its `<pre>`).
fn highlight(file: &FileProfile, src: &[u8]) -> String {
    let bounds = boundaries(file, src);
    let mut html: Vec<u8> = Vec::with_capacity(src.len() * 2);
    let mut next = bounds.iter().peekable();
    let mut open = 0usize;
    for (i, &byte) in src.iter().enumerate() {
        while let Some(b) = next.next_if(|b| b.offset == i) {
            if b.start {
                open += 1;
                let _ = write!(
                    html,
                    "<span class=\"cov{}\" title=\"{}\">",
                    b.class, b.count
                );
            } else if open > 0 {
                open -= 1;
                html.extend_from_slice(b"</span>");
            }
        }
        match byte {
            b'&' => html.extend_from_slice(b"&amp;"),
            b'<' => html.extend_from_slice(b"&lt;"),
            b'>' => html.extend_from_slice(b"&gt;"),
            b'"' => html.extend_from_slice(b"&quot;"),
            b => html.push(b),
        }
    }
    for _ in 0..open {
        html.extend_from_slice(b"</span>");
    }
    // Tags are ASCII, so only the source's own invalid sequences are replaced.
    String::from_utf8_lossy(&html).into_owned()
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `rgb(n)`: red for never run, then from grey-green to bright green.
fn rgb(n: u32) -> String {
    if n == 0 {
        return "rgb(192, 0, 0)".to_owned();
    }
    let n = n - 1;
    format!("rgb({}, {}, {})", 128 - 12 * n, 128 + 12 * n, 128 + 3 * n)
}

fn percent(c: Counts) -> String {
    format!("{:.1}%", c.percent())
}

const STYLE: &str =
    "body { background: black; color: rgb(80, 80, 80); font-family: Menlo, monospace; }
h1, h2, h3, table, #legend, #nav { color: rgb(200, 200, 200); }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; } h3 { font-size: 1em; }
table { border-collapse: collapse; margin: 0 0 1em 0; }
th, td { border: 1px solid rgb(80, 80, 80); padding: 2px 8px; }
td.num { text-align: right; }
a { color: rgb(120, 170, 255); }
.src { display: flex; }
pre { font-weight: bold; tab-size: 8; -moz-tab-size: 8; margin: 0; }
pre.ln { color: rgb(70, 70, 70); text-align: right; padding-right: 1em; user-select: none; }
#legend span { margin: 0 5px; }
";

/// Minimal file picker: shows the chosen file only (all files stay visible without JavaScript).
const SCRIPT: &str = "(function() {
  var files = document.getElementById('files');
  var all = document.querySelectorAll('div.file');
  function select(id) {
    var found = false;
    for (var i = 0; i < all.length; i++) {
      var show = all[i].id === id;
      found = found || show;
      all[i].style.display = show ? 'block' : 'none';
    }
    if (found) { files.value = id; }
    return found;
  }
  files.addEventListener('change', function() { select(files.value); location.hash = files.value; }, false);
  window.addEventListener('hashchange', function() { select(location.hash.substr(1)); }, false);
  if (!(location.hash && select(location.hash.substr(1))) && all.length > 0) { select(all[0].id); }
})();
";

impl ReportWriter for Html<'_> {
    fn write_report(&self, coverage: &Coverage, out: &mut dyn Write) -> io::Result<()> {
        let profile = coverage.profile();
        let summary = Summary::of(profile);
        let files = profile.files();
        let set_mode = profile.mode().is_none_or(|m| m.as_str() == "set");
        let title = self
            .title
            .map_or_else(|| default_title(files), str::to_owned);

        let mut html = String::new();
        html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        let _ = writeln!(html, "<title>{}</title>", escape(&title));
        html.push_str("<style>\n");
        html.push_str(STYLE);
        for n in 0..=10 {
            let _ = writeln!(html, ".cov{n} {{ color: {} }}", rgb(n));
        }
        html.push_str("</style>\n</head>\n<body>\n");
        let _ = writeln!(html, "<h1>{}</h1>", escape(&title));
        let funcs_total = coverage.funcs().total;
        let _ = writeln!(
            html,
            "<p id=\"total\">Total: {} of statements ({} of {}, as <code>go test -cover</code> counts them); {} of statements in functions ({} of {}, as <code>go tool cover -func</code> counts them).</p>",
            percent(summary.total),
            summary.total.covered,
            summary.total.total,
            percent(funcs_total),
            funcs_total.covered,
            funcs_total.total
        );

        package_tables(&mut html, &summary);
        html.push_str("<div id=\"nav\">\n<select id=\"files\">\n");
        for (i, (name, c)) in summary.files.iter().enumerate() {
            let _ = writeln!(
                html,
                "<option value=\"file{i}\">{} ({})</option>",
                escape(name),
                percent(*c)
            );
        }
        html.push_str("</select>\n</div>\n<div id=\"legend\">\n<span>not tracked</span>\n");
        if set_mode {
            html.push_str(
                "<span class=\"cov0\">not covered</span>\n<span class=\"cov8\">covered</span>\n",
            );
        } else {
            html.push_str("<span class=\"cov0\">no coverage</span>\n<span class=\"cov1\">low coverage</span>\n");
            for n in 2..=9 {
                let _ = writeln!(html, "<span class=\"cov{n}\">*</span>");
            }
            html.push_str("<span class=\"cov10\">high coverage</span>\n");
        }
        html.push_str("</div>\n<div id=\"content\">\n");
        for (i, (file, (_, c))) in files.iter().zip(&summary.files).enumerate() {
            let src = self
                .resolver
                .resolve(&file.name)
                .map_err(io::Error::other)?;
            // The profile's name, as Go shows it: on-disk paths would tie the page to one machine.
            let _ = writeln!(
                html,
                "<div class=\"file\" id=\"file{i}\">\n<h2>{} ({})</h2>",
                escape(&file.name),
                percent(*c)
            );
            let lines = line_count(&src);
            html.push_str("<div class=\"src\"><pre class=\"ln\">");
            for n in 1..=lines {
                if n > 1 {
                    html.push('\n');
                }
                let _ = write!(html, "{n}");
            }
            html.push_str("</pre><pre class=\"code\">");
            html.push_str(&highlight(file, &src));
            html.push_str("</pre></div>\n</div>\n");
        }
        html.push_str("</div>\n<script>\n");
        html.push_str(SCRIPT);
        html.push_str("</script>\n</body>\n</html>\n");
        out.write_all(html.as_bytes())
    }
}

/// The package summary, then one table per package listing its files (linked to their sources).
fn package_tables(html: &mut String, summary: &Summary) {
    html.push_str("<table id=\"packages\">\n<tr><th>Package</th><th>Statements</th><th>Covered</th><th>Coverage</th></tr>\n");
    for (package, c) in &summary.packages {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(package),
            c.total,
            c.covered,
            percent(*c)
        );
    }
    let _ = writeln!(
        html,
        "<tr><th>Total</th><th class=\"num\">{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th></tr>\n</table>",
        summary.total.total,
        summary.total.covered,
        percent(summary.total)
    );
    for (package, c) in &summary.packages {
        let _ = writeln!(
            html,
            "<h3>{}</h3>\n<table class=\"package\">\n<tr><th>File</th><th>Statements</th><th>Covered</th><th>Coverage</th></tr>",
            escape(package)
        );
        for (i, (name, fc)) in summary.files.iter().enumerate() {
            if package_of(name) != package {
                continue;
            }
            let _ = writeln!(
                html,
                "<tr><td><a href=\"#file{i}\">{}</a></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(name),
                fc.total,
                fc.covered,
                percent(*fc)
            );
        }
        let _ = writeln!(
            html,
            "<tr><th>{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th></tr>\n</table>",
            escape(package),
            c.total,
            c.covered,
            percent(*c)
        );
    }
}

/// Go's title: the last element of the first file's package, then `: Go Coverage Report`.
fn default_title(files: &[FileProfile]) -> String {
    let pkg = files
        .first()
        .map_or("", |f| package_of(&f.name).rsplit('/').next().unwrap_or(""));
    if pkg.is_empty() || pkg == "." {
        "Go Coverage Report".to_owned()
    } else {
        format!("{pkg}: Go Coverage Report")
    }
}

/// Lines as an editor numbers them: a final line without a newline still counts.
fn line_count(src: &[u8]) -> usize {
    // Source files are small; a dependency for fast byte counting would not pay for itself.
    #[allow(clippy::naive_bytecount)]
    let newlines = src.iter().filter(|&&b| b == b'\n').count();
    newlines + usize::from(!src.is_empty() && !src.ends_with(b"\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryResolver, Profile};

    fn file(profile: &str) -> FileProfile {
        Profile::parse("p", profile).unwrap().files()[0].clone()
    }

    #[test]
    fn highlights_like_go() {
        let src =
            b"package p\n\nfunc F(a int) int {\n\tif a < 0 {\n\t\treturn 0\n\t}\n\treturn a\n}\n";
        let f = file(
            "mode: count\nm/p/a.go:3.19,4.11 1 4\nm/p/a.go:4.11,6.3 1 0\nm/p/a.go:7.2,7.10 1 4\n",
        );
        let out = highlight(&f, src);
        assert_eq!(
            out,
            "package p\n\nfunc F(a int) int <span class=\"cov10\" title=\"4\">{\n\tif a &lt; 0 </span><span class=\"cov0\" title=\"0\">{\n\t\treturn 0\n\t}</span>\n\t<span class=\"cov10\" title=\"4\">return a</span>\n}\n"
        );
    }

    #[test]
    fn count_mode_classes_follow_the_log_of_the_count() {
        let src = b"package p\nab\ncd\nef\n";
        let f = file(
            "mode: count\nm/p/a.go:2.1,2.3 1 1\nm/p/a.go:3.1,3.3 1 10\nm/p/a.go:4.1,4.3 1 100\n",
        );
        let classes: Vec<u32> = boundaries(&f, src)
            .iter()
            .filter(|b| b.start)
            .map(|b| b.class)
            .collect();
        // ln(1)/ln(100) = 0 -> 1; ln(10)/ln(100) = 0.5 -> 5; 1 -> 10.
        assert_eq!(classes, [1, 5, 10]);
    }

    #[test]
    fn mismatched_profiles_still_balance() {
        // The block claims more lines than the source has, and a second one overlaps the first.
        let src = b"package p\nfunc f() {\n}\n";
        let f = file("mode: set\nm/p/a.go:2.10,9.2 1 1\nm/p/a.go:2.11,3.1 1 0\n");
        let out = highlight(&f, src);
        assert_eq!(out.matches("<span").count(), out.matches("</span>").count());
    }

    #[test]
    fn page_escapes_names_and_is_deterministic() {
        let src = "package p\n\nfunc F() {\n\tprintln(\"<&>\")\n}\n";
        let profile = Profile::parse("p", "mode: set\nm/<p>/a.go:3.11,5.2 1 0\n").unwrap();
        let resolver = MemoryResolver::new().with_file("m/<p>/a.go", src);
        let coverage = Coverage::new(profile, &resolver).unwrap();
        let mut a = Vec::new();
        let mut b = Vec::new();
        Html::new(&resolver)
            .write_report(&coverage, &mut a)
            .unwrap();
        Html::new(&resolver)
            .write_report(&coverage, &mut b)
            .unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert!(!text.contains("m/<p>"));
        assert!(text.contains("m/&lt;p&gt;/a.go"));
        assert!(text.contains("println(&quot;&lt;&amp;&gt;&quot;)"));
        assert!(text.contains("<title>&lt;p&gt;: Go Coverage Report</title>"));
    }

    #[test]
    fn line_counts() {
        assert_eq!(line_count(b""), 0);
        assert_eq!(line_count(b"a"), 1);
        assert_eq!(line_count(b"a\n"), 1);
        assert_eq!(line_count(b"a\nb"), 2);
    }
}
