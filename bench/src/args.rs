//! `--name value` / `--name=value` / `--flag` parsing, by hand like the other
//! binaries of the workspace (no parser dependency for a handful of options).

use std::collections::BTreeMap;
use std::str::FromStr;

#[derive(Debug, Default, Clone)]
pub struct Args {
    values: BTreeMap<String, String>,
}

impl Args {
    /// `flags` take no value; every other `--name` takes one.
    pub fn parse(args: &[String], flags: &[&str]) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_owned(), v.to_owned()),
                None if flags.contains(&name) => (name.to_owned(), "true".to_owned()),
                None => {
                    let v = rest
                        .next()
                        .ok_or_else(|| format!("--{name} needs a value"))?;
                    (name.to_owned(), v.clone())
                }
            };
            if values.insert(name.clone(), value).is_some() {
                return Err(format!("--{name} given twice"));
            }
        }
        Ok(Self { values })
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn str_or(&self, name: &str, default: &str) -> String {
        self.str(name).unwrap_or(default).to_owned()
    }

    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.str(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name} {v:?} is not a valid value")),
        }
    }

    /// A comma-separated list, e.g. `--concurrency 4,8,16`.
    pub fn list<T: FromStr + Clone>(&self, name: &str, default: &[T]) -> Result<Vec<T>, String> {
        match self.str(name) {
            None => Ok(default.to_vec()),
            Some(v) => v
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse()
                        .map_err(|_| format!("--{name}: {s:?} is not a valid value"))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_values_flags_and_lists() {
        let a = Args::parse(
            &v(&["--secs", "5", "--quick", "--concurrency=4,8", "--name", "x"]),
            &["quick"],
        )
        .unwrap();
        assert_eq!(a.get("secs", 1u64).unwrap(), 5);
        assert_eq!(a.str("quick"), Some("true"));
        assert_eq!(a.str("other"), None);
        assert_eq!(a.list("concurrency", &[1usize]).unwrap(), vec![4, 8]);
        assert_eq!(a.list("missing", &[1usize]).unwrap(), vec![1]);
        assert_eq!(a.str_or("name", "y"), "x");
        assert!(Args::parse(&v(&["--secs"]), &[]).is_err());
        assert!(Args::parse(&v(&["x"]), &[]).is_err());
        assert!(Args::parse(&v(&["--a", "1", "--a", "2"]), &[]).is_err());
        assert!(a.get::<u64>("name", 0).is_err());
    }
}
