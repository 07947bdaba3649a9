//! File names: strict validation for names we send, sanitising for names a server sends us.
//!
//! Both refuse (or remove) what would make a name look like another one: control characters,
//! and invisible characters (format characters, Unicode's default-ignorable code points such
//! as the Hangul fillers, the blank Braille pattern), among them the bidirectional controls
//! that display `inv\u{202E}fdp.exe` as `invexe.pdf`.

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup};
use icu_properties::{CodePointMapData, CodePointSetData};

use crate::error::{Error, Result};

/// Longest file name in bytes, the common limit of file systems and services.
pub const MAX_NAME_BYTES: usize = 255;

const WINDOWS_DEVICES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Checks a file name the caller wants to send or upload.
///
/// Unicode is welcome; what is refused is what would change meaning on the other side: path
/// separators, `.`/`..`, control characters (CR, LF, NUL…), invisible format characters (see
/// [`invisible_char`]: bidirectional overrides, embeddings and isolates, zero-width spaces, soft
/// hyphens, byte-order marks…), leading or trailing spaces, and names longer than 255 bytes.
///
/// ```
/// use securesend_core::names::validate_file_name;
/// assert!(validate_file_name("Übersicht 2026 – 日本.pdf").is_ok());
/// assert!(validate_file_name("../etc/passwd").is_err());
/// assert!(validate_file_name("a\r\nb.txt").is_err());
/// // Shown as "invexe.pdf", but it is an .exe.
/// let e = validate_file_name("inv\u{202E}fdp.exe").unwrap_err();
/// assert!(e.to_string().contains("U+202E RIGHT-TO-LEFT OVERRIDE"));
/// // A zero-width non-joiner inside a Persian word is spelling, not a trick.
/// assert!(validate_file_name("می\u{200C}خواهم.txt").is_ok());
/// ```
pub fn validate_file_name(name: &str) -> Result<()> {
    let shown: String = name.escape_debug().take(80).collect();
    let fail = |why: &str| Err(Error::invalid_input(format!("file name \"{shown}\" {why}")));
    if name.is_empty() {
        return Err(Error::invalid_input(
            "file name is empty; give the file a name",
        ));
    }
    if name.chars().any(char::is_control) {
        return fail("contains a control character (CR, LF, NUL, …); rename the file");
    }
    if let Some(c) = invisible_char(name) {
        return fail(&format!(
            "contains {}; rename the file",
            describe_invisible(c)
        ));
    }
    if name.contains('/') || name.contains('\\') {
        return fail("contains a path separator; give a bare file name");
    }
    if name == "." || name == ".." {
        return fail("is a path component, not a file name");
    }
    if name.trim() != name {
        return fail("starts or ends with white space; trim it");
    }
    if name.len() > MAX_NAME_BYTES {
        return fail("is longer than 255 bytes; shorten it");
    }
    Ok(())
}

/// Turns a name that came from a server into one safe to create on this machine.
///
/// Path separators, control characters and reserved characters become `_`; invisible format
/// characters are removed (as [`strip_invisible`] does, so `inv\u{202E}fdp.exe` is saved as
/// the `invfdp.exe` it really is); `.`/`..`, names of Windows devices and leading dots are
/// defused; the result is at most 255 bytes and never empty. The result never names another
/// directory, and always passes [`validate_file_name`].
///
/// ```
/// use securesend_core::names::sanitize_file_name;
/// assert_eq!(sanitize_file_name("../../x"), "_._.._x");
/// assert_eq!(sanitize_file_name("/etc/passwd"), "_etc_passwd");
/// assert_eq!(sanitize_file_name("CON"), "_CON");
/// assert_eq!(sanitize_file_name("a\0b\r\n.txt"), "a_b__.txt");
/// assert_eq!(sanitize_file_name(""), "download");
/// assert_eq!(sanitize_file_name("inv\u{202E}fdp.exe"), "invfdp.exe");
/// ```
pub fn sanitize_file_name(name: &str) -> String {
    let mapped: String = strip_invisible(name)
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    // Trailing dots and spaces vanish on some file systems, which can turn "a.txt." into
    // another file's name.
    // Any Unicode white space, as `validate_file_name` counts it (fuzzing found a trailing
    // no-break space kept here and refused there).
    let mut out = mapped
        .trim_start()
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
        .to_owned();
    if out.starts_with('.') {
        out.replace_range(0..1, "_");
    }
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    if WINDOWS_DEVICES.contains(&stem.as_str()) {
        out.insert(0, '_');
    }
    if out.len() > MAX_NAME_BYTES {
        // Keep the extension where possible, cut on a character boundary.
        let ext = out
            .rfind('.')
            .filter(|&i| out.len() - i <= 16)
            .map(|i| out[i..].to_owned())
            .unwrap_or_default();
        let mut cut = MAX_NAME_BYTES - ext.len();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        // The cut can leave a joiner with no letter after it, or white space at the end.
        out = strip_invisible(&out)
            .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
            .to_owned();
        out.push_str(&ext);
    }
    if out.is_empty() {
        return "download".to_owned();
    }
    out
}

/// The first character of `text` that is invisible and can change how the text reads:
///
/// - any format character (Unicode general category Cf, such as U+202E RIGHT-TO-LEFT
///   OVERRIDE, U+200B ZERO WIDTH SPACE, U+2060 WORD JOINER, U+FEFF ZERO WIDTH NO-BREAK SPACE,
///   U+00AD SOFT HYPHEN or U+180E MONGOLIAN VOWEL SEPARATOR);
/// - any other default-ignorable code point (Unicode's Default_Ignorable_Code_Point: what a
///   renderer draws as nothing, such as U+3164 HANGUL FILLER, U+115F and U+1160, U+FFA0, or
///   U+034F COMBINING GRAPHEME JOINER);
/// - U+2800 BRAILLE PATTERN BLANK, not ignorable but drawn as a blank that is no space.
///
/// The zero-width non-joiner and joiner (U+200C, U+200D) are part of spelling in Persian, the
/// Indic scripts and others, so they pass where they join letters: between a non-ASCII letter
/// (or the combining mark, such as a virama, that ends one) and a non-ASCII letter. Anywhere
/// else (next to ASCII, a space, a digit, an emoji, or at either end) they are refused too.
/// Variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF) choose how the character before them
/// is drawn (an emoji's colour form), so they pass right after a visible character, and
/// nowhere else.
///
/// ```
/// use securesend_core::names::invisible_char;
/// assert_eq!(invisible_char("report\u{200B}.pdf"), Some('\u{200B}'));
/// assert_eq!(invisible_char("report\u{3164}.pdf"), Some('\u{3164}'));
/// assert_eq!(invisible_char("क्\u{200D}ष.txt"), None);
/// assert_eq!(invisible_char("a\u{200D}b.txt"), Some('\u{200D}'));
/// assert_eq!(invisible_char("\u{2764}\u{FE0F}.txt"), None);
/// assert_eq!(invisible_char("\u{FE0F}.txt"), Some('\u{FE0F}'));
/// assert_eq!(invisible_char("Grüße.txt"), None);
/// ```
pub fn invisible_char(text: &str) -> Option<char> {
    if text.is_ascii() {
        return None;
    }
    let mut prev = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let allowed = if is_joiner(c) {
            joins_letters(prev, chars.peek().copied())
        } else if is_variation_selector(c) {
            prev.is_some_and(is_visible)
        } else {
            !is_hidden(c)
        };
        if !allowed {
            return Some(c);
        }
        prev = Some(c);
    }
    None
}

/// `text` without its invisible format characters (those [`invisible_char`] finds): what a
/// name from a service is shown and saved as, so it reads as what it is.
///
/// ```
/// use securesend_core::names::strip_invisible;
/// assert_eq!(strip_invisible("inv\u{202E}fdp.exe"), "invfdp.exe");
/// assert_eq!(strip_invisible("\u{FEFF}a\u{AD}b\u{200D}"), "ab");
/// assert_eq!(strip_invisible("می\u{200C}خواهم"), "می\u{200C}خواهم");
/// ```
pub fn strip_invisible(text: &str) -> String {
    if invisible_char(text).is_none() {
        return text.to_owned();
    }
    // Other invisible characters first, so a joiner or a variation selector is judged by what
    // it ends up next to; letters are never removed, so a joiner kept then stays between
    // letters, and each is judged against what was kept before it, as `invisible_char` will.
    let without: Vec<char> = text
        .chars()
        .filter(|&c| is_joiner(c) || is_variation_selector(c) || !is_hidden(c))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut last = None;
    for (i, &c) in without.iter().enumerate() {
        let keep = if is_joiner(c) {
            joins_letters(last, without.get(i + 1).copied())
        } else if is_variation_selector(c) {
            last.is_some_and(is_visible)
        } else {
            true
        };
        if keep {
            out.push(c);
            last = Some(c);
        }
    }
    out
}

/// The first bidirectional embedding, override or isolate control in `text` (U+202A–U+202E,
/// U+2066–U+2069): characters that reorder what follows them on screen.
///
/// ```
/// use securesend_core::names::bidi_control;
/// assert_eq!(bidi_control("Invoice \u{202E}fdp.exe"), Some('\u{202E}'));
/// assert_eq!(bidi_control("שלום and hello"), None);
/// ```
pub fn bidi_control(text: &str) -> Option<char> {
    text.chars()
        .find(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
}

/// An invisible character as errors name it: `the invisible character U+202E RIGHT-TO-LEFT
/// OVERRIDE`, or for a joiner, where it is allowed.
pub fn describe_invisible(c: char) -> String {
    let code = format!("U+{:04X}", u32::from(c));
    let name = char_name(c).map(|n| format!(" {n}")).unwrap_or_default();
    if is_joiner(c) {
        format!(
            "the invisible character {code}{name} outside a word (it is allowed only between two non-ASCII letters)"
        )
    } else if is_variation_selector(c) {
        format!(
            "the invisible character {code}{name} with no visible character before it (it is allowed only right after one, as in an emoji)"
        )
    } else {
        format!("the invisible character {code}{name}")
    }
}

/// An invisible character other than the two joiners (which spell words in some scripts) and
/// the variation selectors (which draw emoji): what error lines escape.
pub(crate) fn is_deceptive_format(c: char) -> bool {
    !c.is_ascii() && !is_joiner(c) && !is_variation_selector(c) && is_hidden(c)
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Invisible: a format character, a default-ignorable code point (the fillers, the combining
/// grapheme joiner, the variation selectors, the joiners…) or the blank Braille pattern.
fn is_hidden(c: char) -> bool {
    !c.is_ascii()
        && (c == '\u{2800}'
            || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
            || CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format)
}

/// What a variation selector may follow: a character that is drawn (not white space, not a
/// control, not itself invisible).
fn is_visible(c: char) -> bool {
    !c.is_control() && !c.is_whitespace() && !is_hidden(c)
}

fn joins_letters(prev: Option<char>, next: Option<char>) -> bool {
    let category = |c: char| CodePointMapData::<GeneralCategory>::new().get(c);
    // A filler is a letter to Unicode (U+3164 is Lo) and a mark may be invisible (U+034F):
    // neither is what a joiner joins.
    let before = prev.is_some_and(|c| {
        !c.is_ascii()
            && !is_hidden(c)
            && (GeneralCategoryGroup::Letter.contains(category(c))
                || GeneralCategoryGroup::Mark.contains(category(c)))
    });
    let after = next.is_some_and(|c| {
        !c.is_ascii() && !is_hidden(c) && GeneralCategoryGroup::Letter.contains(category(c))
    });
    before && after
}

/// Names of the invisible characters people meet (the Unicode character names); others are
/// shown by code point alone.
fn char_name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{00AD}' => "SOFT HYPHEN",
        '\u{034F}' => "COMBINING GRAPHEME JOINER",
        '\u{115F}' => "HANGUL CHOSEONG FILLER",
        '\u{1160}' => "HANGUL JUNGSEONG FILLER",
        '\u{17B4}' => "KHMER VOWEL INHERENT AQ",
        '\u{17B5}' => "KHMER VOWEL INHERENT AA",
        '\u{180B}' => "MONGOLIAN FREE VARIATION SELECTOR ONE",
        '\u{180C}' => "MONGOLIAN FREE VARIATION SELECTOR TWO",
        '\u{180D}' => "MONGOLIAN FREE VARIATION SELECTOR THREE",
        '\u{180F}' => "MONGOLIAN FREE VARIATION SELECTOR FOUR",
        '\u{2800}' => "BRAILLE PATTERN BLANK",
        '\u{3164}' => "HANGUL FILLER",
        '\u{FE0E}' => "VARIATION SELECTOR-15",
        '\u{FE0F}' => "VARIATION SELECTOR-16",
        '\u{FFA0}' => "HALFWIDTH HANGUL FILLER",
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{180E}' => "MONGOLIAN VOWEL SEPARATOR",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2060}' => "WORD JOINER",
        '\u{2061}' => "FUNCTION APPLICATION",
        '\u{2062}' => "INVISIBLE TIMES",
        '\u{2063}' => "INVISIBLE SEPARATOR",
        '\u{2064}' => "INVISIBLE PLUS",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE",
        '\u{FFF9}' => "INTERLINEAR ANNOTATION ANCHOR",
        '\u{FFFA}' => "INTERLINEAR ANNOTATION SEPARATOR",
        '\u{FFFB}' => "INTERLINEAR ANNOTATION TERMINATOR",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_rejects_each_bad_form() {
        let long = "x".repeat(256);
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a\0",
            "a\nb",
            " a",
            "a ",
            long.as_str(),
        ] {
            let e = validate_file_name(bad).expect_err(bad);
            assert!(e.is_invalid_input());
            assert!(!e.to_string().contains('\n'));
        }
        assert!(validate_file_name(&"é".repeat(127)).is_ok());
    }

    #[test]
    fn invisible_format_characters_are_refused_naming_the_code_point() {
        let e = validate_file_name("inv\u{202E}fdp.exe").unwrap_err();
        assert!(e.is_invalid_input());
        assert_eq!(
            e.to_string(),
            "invalid input: file name \"inv\\u{202e}fdp.exe\" contains the invisible character U+202E RIGHT-TO-LEFT OVERRIDE; rename the file"
        );
        for c in [
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200B}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{180E}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{E0041}',
        ] {
            for name in [
                format!("a{c}b.txt"),
                format!("{c}ab.txt"),
                format!("ab.txt{c}"),
            ] {
                let e = validate_file_name(&name).expect_err(&name);
                assert!(e.is_invalid_input(), "{name:?}: {e}");
                let text = e.to_string();
                let code = format!("U+{:04X}", u32::from(c));
                assert!(text.contains(&code), "{name:?}: {text}");
                assert!(text.ends_with("; rename the file"), "{text}");
                // The error line itself must not carry the character it warns about.
                assert!(!text.contains(c), "{name:?}: {text:?}");
            }
        }
    }

    #[test]
    fn invisible_fillers_and_blanks_are_refused_and_stripped() {
        for c in [
            '\u{3164}', '\u{115F}', '\u{1160}', '\u{FFA0}', '\u{034F}', '\u{2800}', '\u{17B4}',
            '\u{180B}',
        ] {
            for name in [
                format!("a{c}b.txt"),
                format!("{c}ab.txt"),
                format!("ab.txt{c}"),
                format!("{c}"),
            ] {
                let e = validate_file_name(&name).expect_err(&name);
                let text = e.to_string();
                let code = format!("U+{:04X}", u32::from(c));
                assert!(text.contains(&code), "{name:?}: {text}");
                assert!(!text.contains(c), "{name:?}: {text:?}");
                let safe = sanitize_file_name(&name);
                assert!(!safe.contains(c), "{name:?} -> {safe:?}");
                assert!(validate_file_name(&safe).is_ok(), "{name:?} -> {safe:?}");
            }
        }
        assert!(
            validate_file_name("\u{3164}.pdf")
                .unwrap_err()
                .to_string()
                .contains("U+3164 HANGUL FILLER")
        );
        assert_eq!(sanitize_file_name("report\u{3164}.pdf"), "report.pdf");
        // A filler is a letter to Unicode, but a joiner next to one joins nothing.
        assert_eq!(invisible_char("ی\u{200C}\u{3164}"), Some('\u{200C}'));
        assert_eq!(strip_invisible("ی\u{200C}\u{3164}"), "ی");
    }

    #[test]
    fn variation_selectors_pass_only_after_a_visible_character() {
        for good in [
            "\u{2764}\u{FE0F}.txt",
            "\u{263A}\u{FE0E} notes.txt",
            "\u{845B}\u{E0100}城.pdf",
        ] {
            assert!(validate_file_name(good).is_ok(), "{good:?}");
            assert_eq!(sanitize_file_name(good), good);
        }
        for bad in [
            "\u{FE0F}a.txt",
            "a \u{FE0F}.txt",
            "\u{2764}\u{FE0F}\u{FE0F}.txt",
            "a\u{200B}\u{FE0F}",
            "\u{E0100}x.pdf",
        ] {
            let e = validate_file_name(bad).expect_err(bad);
            assert!(e.is_invalid_input(), "{bad:?}: {e}");
            let safe = sanitize_file_name(bad);
            assert!(validate_file_name(&safe).is_ok(), "{bad:?} -> {safe:?}");
        }
        assert!(
            validate_file_name("\u{FE0F}a.txt")
                .unwrap_err()
                .to_string()
                .contains("U+FE0F VARIATION SELECTOR-16 with no visible character before it")
        );
        assert_eq!(strip_invisible("a \u{FE0F}b"), "a b");
        // Removing the zero-width space puts the selector after the heart: it may stay.
        assert_eq!(
            strip_invisible("\u{2764}\u{200B}\u{FE0F}"),
            "\u{2764}\u{FE0F}"
        );
    }

    #[test]
    fn joiners_pass_only_between_non_ascii_letters() {
        for good in ["می\u{200C}خواهم.txt", "क्\u{200D}ष.txt", "ශ්\u{200D}රී.pdf"]
        {
            assert!(validate_file_name(good).is_ok(), "{good:?}");
            assert_eq!(sanitize_file_name(good), good);
        }
        for bad in [
            "a\u{200D}b.txt",
            "\u{200C}می.txt",
            "می\u{200C}",
            "می\u{200C} خواهم",
            "می\u{200C}1.txt",
            "👩\u{200D}💻.txt",
            "ab\u{200D}.txt",
        ] {
            let e = validate_file_name(bad).expect_err(bad);
            assert!(e.is_invalid_input());
            assert!(
                e.to_string()
                    .contains("outside a word (it is allowed only between two non-ASCII letters)"),
                "{e}"
            );
        }
    }

    #[test]
    fn server_names_lose_their_invisible_characters() {
        for (raw, safe) in [
            ("inv\u{202E}fdp.exe", "invfdp.exe"),
            ("\u{2066}report\u{2069}.pdf", "report.pdf"),
            ("a\u{200B}b\u{AD}c\u{FEFF}.txt", "abc.txt"),
            ("a\u{200D}b.txt", "ab.txt"),
            // Removing the zero-width space leaves the joiner between two letters.
            ("می\u{200B}\u{200C}خواهم", "می\u{200C}خواهم"),
            ("\u{202E}", "download"),
            ("\u{200B}.bashrc", "_bashrc"),
        ] {
            assert_eq!(sanitize_file_name(raw), safe, "{raw:?}");
            assert_eq!(
                strip_invisible(raw)
                    .chars()
                    .filter(|c| is_hidden(*c) && !is_joiner(*c))
                    .count(),
                0
            );
        }
        // Cut to 255 bytes right after a joiner: the joiner goes too.
        let long = format!("{}\u{200C}خ", "ی".repeat(126));
        let safe = sanitize_file_name(&long);
        assert!(validate_file_name(&safe).is_ok(), "{safe:?}");
        let long = format!("{}\u{200C}خ.pdf", "ی".repeat(124));
        let safe = sanitize_file_name(&long);
        assert!(validate_file_name(&safe).is_ok(), "{safe:?}");
        assert!(safe.ends_with(".pdf"));
    }

    #[test]
    fn bidi_controls_are_found_and_marks_are_not() {
        assert_eq!(bidi_control("x\u{2067}y"), Some('\u{2067}'));
        assert_eq!(bidi_control("x\u{200F}y"), None);
        assert_eq!(bidi_control("Grüße"), None);
    }

    #[test]
    fn sanitised_names_pass_validation_even_with_unicode_white_space() {
        // Found by the `address` fuzz target: "   J Jl\u{4de}p\u{a0}".
        for raw in [
            "   J Jl\u{4de}p\u{a0}",
            "a.txt\u{2003}",
            "\u{a0}\u{a0}",
            "b.\u{3000}.",
        ] {
            let safe = sanitize_file_name(raw);
            assert!(validate_file_name(&safe).is_ok(), "{raw:?} -> {safe:?}");
        }
    }

    #[test]
    fn sanitised_names_are_safe() {
        let nasty = [
            "../../x",
            "..",
            ".",
            "/etc/passwd",
            "C:\\Windows\\system32",
            "CON",
            "con.txt",
            "lpt9.tar.gz",
            "a\0b",
            "line\r\nbreak",
            "...",
            " . ",
            ".bashrc",
            "name.",
        ];
        for n in nasty {
            let s = sanitize_file_name(n);
            assert!(validate_file_name(&s).is_ok(), "{n:?} -> {s:?}");
            assert!(!s.starts_with('.'), "{n:?} -> {s:?}");
            let stem = s.split('.').next().unwrap().to_ascii_uppercase();
            assert!(!WINDOWS_DEVICES.contains(&stem.as_str()), "{n:?} -> {s:?}");
        }
        let long = format!("{}.pdf", "ü".repeat(300));
        let s = sanitize_file_name(&long);
        assert!(s.len() <= MAX_NAME_BYTES && s.ends_with(".pdf"));
        assert_eq!(sanitize_file_name("report 2026.pdf"), "report 2026.pdf");
    }
}
