//! Writing a report in each format to a chunk callback: the HTTP handler
//! streams the chunks, the CLI writes them to a file.

use std::str::FromStr;

use diesel::PgConnection;

use super::html::{self, PageRows};
use super::{
    Header, ReportRow, Scope, Sink, Summary, json_close, json_open, json_row, read_pipelined,
};
use crate::db::DbError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Html,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            other => Err(format!("unknown format {other:?}; use csv, json or html")),
        }
    }
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Html => "html",
        }
    }
}

/// A chunk of output; returning `false` means stop (the reader went away).
pub type Emit<'a> = &'a mut dyn FnMut(Vec<u8>) -> bool;

struct JsonSink<'a> {
    scope: Scope,
    date: String,
    first: bool,
    emit: Emit<'a>,
}

impl Sink for JsonSink<'_> {
    fn summary(&mut self, summary: Summary) -> bool {
        (self.emit)(json_open(&Header::new(&self.scope, &summary)))
    }

    fn rows(&mut self, rows: Vec<ReportRow>) -> bool {
        let mut out = Vec::with_capacity(rows.len() * 400);
        for r in &rows {
            json_row(r, &self.date, self.first, &mut out);
            self.first = false;
        }
        (self.emit)(out)
    }
}

struct HtmlSink {
    summary: Option<Summary>,
    page: PageRows,
}

impl Sink for HtmlSink {
    fn summary(&mut self, summary: Summary) -> bool {
        self.summary = Some(summary);
        true
    }

    fn rows(&mut self, rows: Vec<ReportRow>) -> bool {
        for r in &rows {
            self.page.add(r);
        }
        true
    }
}

/// The day's report as the HTML fragment [`html::render_body`] writes for `host`: the
/// same read and totals as the HTML report, at most [`html::MAX_ORDER_ROWS`] order rows.
pub fn html_body(
    conn: &mut PgConnection,
    scope: &Scope,
    host: html::Host,
) -> Result<String, DbError> {
    let mut sink = HtmlSink {
        summary: None,
        page: PageRows::new(),
    };
    read_pipelined(conn, scope, true, &mut sink)?;
    let summary = sink
        .summary
        .ok_or_else(|| DbError::Task("report summary missing".to_owned()))?;
    let generated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    html::render_body(scope, &summary, &sink.page, &generated, host)
        .map_err(|e| DbError::Task(format!("html: {e}")))
}

/// Reads the report for `scope` and emits it in `format`. Returns the row count.
pub fn write_report(
    conn: &mut PgConnection,
    scope: &Scope,
    format: Format,
    emit: Emit<'_>,
) -> Result<u64, DbError> {
    let date = scope.date.format("%Y-%m-%d").to_string();
    match format {
        Format::Csv => super::copy::write_csv(conn, scope, emit),
        Format::Json => {
            let mut sink = JsonSink {
                scope: *scope,
                date,
                first: true,
                emit,
            };
            let n = read_pipelined(conn, scope, true, &mut sink)?;
            (sink.emit)(json_close().to_vec());
            Ok(n)
        }
        Format::Html => {
            let mut sink = HtmlSink {
                summary: None,
                page: PageRows::new(),
            };
            let n = read_pipelined(conn, scope, true, &mut sink)?;
            let summary = sink
                .summary
                .ok_or_else(|| DbError::Task("report summary missing".to_owned()))?;
            let generated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let page = html::render(scope, &summary, &sink.page, &generated)
                .map_err(|e| DbError::Task(format!("html: {e}")))?;
            emit(page.into_bytes());
            Ok(n)
        }
    }
}
