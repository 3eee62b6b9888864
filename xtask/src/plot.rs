//! One SVG chart per benchmark group, drawn from the rows of
//! `target/bench/summary.json` (written by the erm-bench harness).
//!
//! Each chart has two panels. The first shows every row that has an anchor:
//! its ratio against the anchor (bigger is better for ERMFS) on a log scale
//! around parity, a tick at the row's target, green when the target holds,
//! red when it does not, grey for rows without a target. Thread scaling shows
//! as the 1-thread and 2-thread rows side by side. The second panel shows the
//! informational rows without an anchor (backend speed per level, ...), one
//! linear scale per unit. Plain SVG text, no dependency: the charts are
//! simple and the data is ours.

use std::fmt::Write as _;

/// One summary row, as far as the charts need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub ours: Option<f64>,
    pub unit: String,
    pub ratio: Option<f64>,
    pub target: String,
    pub pass: Option<bool>,
}

impl Row {
    /// The group: the name up to its first `/`.
    pub fn group(&self) -> &str {
        self.name.split('/').next().unwrap_or("")
    }

    /// The ratio the target asks for, when it is a plain `ratio >= X`.
    fn min_ratio(&self) -> Option<f64> {
        self.target.strip_prefix("ratio >= ")?.trim().parse().ok()
    }
}

/// Parses the harness's JSON rows (an array of flat objects of strings,
/// numbers, booleans and nulls). Anything else is an error naming the spot.
pub fn parse_rows(json: &str) -> Result<Vec<Row>, String> {
    let mut p = Parser {
        s: json.as_bytes(),
        i: 0,
    };
    let mut rows = Vec::new();
    p.expect(b'[')?;
    if p.peek() == Some(b']') {
        return Ok(rows);
    }
    loop {
        rows.push(p.object()?);
        match p.next() {
            Some(b',') => continue,
            Some(b']') => return Ok(rows),
            _ => return Err(p.error("`,` or `]`")),
        }
    }
}

/// A JSON value of a flat row.
enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&mut self) -> Option<u8> {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn error(&self, wanted: &str) -> String {
        format!("summary.json: expected {wanted} at byte {}", self.i)
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.next() {
            Some(got) if got == c => Ok(()),
            _ => Err(self.error(&format!("`{}`", c as char))),
        }
    }

    fn object(&mut self) -> Result<Row, String> {
        let mut row = Row {
            name: String::new(),
            ours: None,
            unit: String::new(),
            ratio: None,
            target: String::new(),
            pass: None,
        };
        self.expect(b'{')?;
        loop {
            let key = match self.value()? {
                Value::Str(k) => k,
                _ => return Err(self.error("a key")),
            };
            self.expect(b':')?;
            match (key.as_str(), self.value()?) {
                ("name", Value::Str(v)) => row.name = v,
                ("unit", Value::Str(v)) => row.unit = v,
                ("target", Value::Str(v)) => row.target = v,
                ("ours", Value::Num(v)) => row.ours = Some(v),
                ("ratio", Value::Num(v)) => row.ratio = Some(v),
                ("pass", Value::Bool(v)) => row.pass = Some(v),
                _ => {} // other keys, and nulls, are not charted
            }
            match self.next() {
                Some(b',') => continue,
                Some(b'}') => return Ok(row),
                _ => return Err(self.error("`,` or `}`")),
            }
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'"') => self.string().map(Value::Str),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(_) => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
                {
                    self.i += 1;
                }
                std::str::from_utf8(&self.s[start..self.i])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .map(Value::Num)
                    .ok_or_else(|| self.error("a value"))
            }
            None => Err(self.error("a value")),
        }
    }

    fn word(&mut self, word: &str, v: Value) -> Result<Value, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.error(word))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or_else(|| self.error("`\"`"))?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|_| self.error("UTF-8")),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or_else(|| self.error("an escape"))?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4).unwrap_or_default();
                            let code = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.error("\\uXXXX"))?;
                            self.i += 4;
                            out.extend_from_slice(code.to_string().as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

const ROW_H: f64 = 18.0;
const PLOT_W: f64 = 360.0;
const CHAR_W: f64 = 6.7;
const MAX_LABEL: usize = 96;
const GREEN: &str = "#2e7d32";
const RED: &str = "#c62828";
const GREY: &str = "#9e9e9e";

/// The chart of one group's rows, as an SVG document.
pub fn chart(group: &str, rows: &[Row]) -> String {
    let rated: Vec<&Row> = rows.iter().filter(|r| r.ratio.is_some()).collect();
    let info: Vec<&Row> = rows
        .iter()
        .filter(|r| r.ratio.is_none() && r.ours.is_some())
        .collect();
    let label_w = rows
        .iter()
        .map(|r| label(r).chars().count())
        .max()
        .unwrap_or(10) as f64
        * CHAR_W
        + 12.0;
    let width = label_w + PLOT_W + 90.0;
    let mut body = String::new();
    let mut y = 30.0;
    let _ = write!(
        body,
        r#"<text x="8" y="18" font-size="14" font-weight="bold">{} benchmarks</text>"#,
        esc(group)
    );
    if !rated.is_empty() {
        y = ratio_panel(&mut body, &rated, label_w, y);
    }
    let mut units: Vec<&str> = info.iter().map(|r| r.unit.as_str()).collect();
    units.dedup();
    units.sort_unstable();
    units.dedup();
    for unit in units {
        let of_unit: Vec<&Row> = info.iter().copied().filter(|r| r.unit == unit).collect();
        y = value_panel(&mut body, &of_unit, unit, label_w, y);
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{:.0}\" \
         font-family=\"monospace\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}\n</svg>\n",
        y + 10.0
    )
}

/// The row's name without its group prefix, cut to a readable length.
fn label(r: &Row) -> String {
    let name = r.name.split_once('/').map_or(r.name.as_str(), |(_, n)| n);
    if name.chars().count() > MAX_LABEL {
        let cut: String = name.chars().take(MAX_LABEL - 1).collect();
        format!("{cut}…")
    } else {
        name.to_owned()
    }
}

/// Ratios on a log scale around parity; returns the next free `y`.
fn ratio_panel(out: &mut String, rows: &[&Row], label_w: f64, mut y: f64) -> f64 {
    let values = rows
        .iter()
        .flat_map(|r| [r.ratio, r.min_ratio()])
        .flatten()
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = values.fold((0.5f64, 2.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = ((lo / 1.3).log10(), (hi * 1.3).log10());
    let x = |v: f64| label_w + (v.clamp(1e-9, f64::MAX).log10() - lo) / (hi - lo) * PLOT_W;
    let _ = write!(
        out,
        r#"<text x="8" y="{:.0}" font-weight="bold">ratio against the anchor (bigger is better; log scale; tick = target)</text>"#,
        y + 8.0
    );
    y += 16.0;
    let top = y;
    for r in rows {
        let ratio = r.ratio.unwrap_or(1.0);
        let shown = if ratio.is_finite() {
            ratio
        } else {
            10f64.powf(hi)
        };
        let color = match r.pass {
            Some(true) => GREEN,
            Some(false) => RED,
            None => GREY,
        };
        let (x0, x1) = (x(1.0), x(shown));
        let _ = write!(
            out,
            "\n<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\">{:.2}x</text>",
            label_w - 6.0,
            y + 12.0,
            esc(&label(r)),
            x0.min(x1),
            y + 3.0,
            (x1 - x0).abs().max(1.0),
            ROW_H - 6.0,
            label_w + PLOT_W + 6.0,
            y + 12.0,
            ratio,
        );
        if let Some(t) = r.min_ratio() {
            let _ = write!(
                out,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"black\" stroke-width=\"2\"/>",
                x(t),
                y + 1.0,
                y + ROW_H - 1.0
            );
        }
        y += ROW_H;
    }
    let mut tick = 10f64.powf(lo.floor());
    while tick.log10() <= hi {
        for m in [1.0, 2.0, 5.0] {
            let v = tick * m;
            if v.log10() > lo && v.log10() < hi {
                let _ = write!(
                    out,
                    "\n<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.0}\" y2=\"{2:.0}\" stroke=\"{3}\" stroke-dasharray=\"2,3\"/>\
                     <text x=\"{0:.1}\" y=\"{4:.0}\" text-anchor=\"middle\" fill=\"#555\">{5}</text>",
                    x(v),
                    top,
                    y,
                    if m == 1.0 && tick == 1.0 {
                        "black"
                    } else {
                        "#bbb"
                    },
                    y + 12.0,
                    v
                );
            }
        }
        tick *= 10.0;
    }
    y + 24.0
}

/// Informational figures of one unit on a linear scale from 0.
fn value_panel(out: &mut String, rows: &[&Row], unit: &str, label_w: f64, mut y: f64) -> f64 {
    let max = rows
        .iter()
        .filter_map(|r| r.ours)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let scale = if max > 0.0 { PLOT_W / max } else { 0.0 };
    let _ = write!(
        out,
        r#"<text x="8" y="{:.0}" font-weight="bold">figures without an anchor, in {}</text>"#,
        y + 8.0,
        esc(unit)
    );
    y += 16.0;
    for r in rows {
        let v = r.ours.unwrap_or(0.0);
        let w = if v.is_finite() {
            (v * scale).max(1.0)
        } else {
            1.0
        };
        let _ = write!(
            out,
            "\n<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"#5c6bc0\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\">{}</text>",
            label_w - 6.0,
            y + 12.0,
            esc(&label(r)),
            y + 3.0,
            ROW_H - 6.0,
            label_w + PLOT_W + 6.0,
            y + 12.0,
            short(v),
        );
        y += ROW_H;
    }
    y + 12.0
}

/// A figure in at most about six characters.
fn short(v: f64) -> String {
    if v != 0.0 && !(0.01..1e6).contains(&v.abs()) {
        format!("{v:.2e}")
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"[
  {"name": "reg/get <2t> \"q\"", "ours": 0.5, "anchor": 1, "anchor_name": "x", "unit": "s", "ratio": 2, "target": "ratio >= 1.5", "pass": true},
  {"name": "reg/speed", "ours": 1.5e2, "anchor": null, "anchor_name": "", "unit": "MiB/s", "ratio": null, "target": "", "pass": null}
]"#;

    #[test]
    fn parses_the_harness_rows() {
        let rows = parse_rows(JSON).expect("parses");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "reg/get <2t> \"q\"");
        assert_eq!(rows[0].min_ratio(), Some(1.5));
        assert_eq!(rows[0].pass, Some(true));
        assert_eq!(rows[1].ours, Some(150.0));
        assert_eq!(rows[1].ratio, None);
        assert_eq!(rows[1].group(), "reg");
    }

    #[test]
    fn rejects_broken_json_without_panicking() {
        for bad in ["", "[", "[{", r#"[{"name": }]"#, r#"[{"name": "a"]"#, "[1]"] {
            assert!(parse_rows(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_rows("[ ]").expect("empty"), Vec::new());
    }

    #[test]
    fn charts_are_escaped_svg_with_one_bar_per_row() {
        let rows = parse_rows(JSON).expect("parses");
        let svg = chart("reg", &rows);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("get &lt;2t&gt;"));
        assert_eq!(svg.matches("<rect").count(), 1 + rows.len());
        assert!(svg.contains(GREEN) && svg.contains("2.00x"));
    }
}
