//! Command-line flags for `pse-sandbox`, parsed by hand (a handful of
//! commands do not justify a parser dependency).

use std::collections::BTreeMap;

/// `--name value` and `--name=value` pairs; anything else is an error.
pub fn parse_flags(args: &[String], allowed: &[&str]) -> Result<BTreeMap<String, String>, String> {
    let mut flags = BTreeMap::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(name) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, value) = match name.split_once('=') {
            Some((n, v)) => (n.to_owned(), v.to_owned()),
            None => {
                let v = rest
                    .next()
                    .ok_or_else(|| format!("--{name} needs a value"))?;
                (name.to_owned(), v.clone())
            }
        };
        if !allowed.contains(&name.as_str()) {
            return Err(format!("unknown option --{name}"));
        }
        if flags.insert(name.clone(), value).is_some() {
            return Err(format!("--{name} given twice"));
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn both_spellings_and_the_errors() {
        let f = parse_flags(&args(&["--a", "1", "--b=2"]), &["a", "b"]).unwrap();
        assert_eq!(f["a"], "1");
        assert_eq!(f["b"], "2");
        assert_eq!(
            parse_flags(&args(&["--c", "1"]), &["a"]).unwrap_err(),
            "unknown option --c"
        );
        assert_eq!(
            parse_flags(&args(&["--a"]), &["a"]).unwrap_err(),
            "--a needs a value"
        );
        assert_eq!(
            parse_flags(&args(&["--a=1", "--a=2"]), &["a"]).unwrap_err(),
            "--a given twice"
        );
        assert!(parse_flags(&args(&["loose"]), &["a"]).is_err());
    }
}
