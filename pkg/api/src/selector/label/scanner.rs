//! The label selector scanner: the query string as tokens (upstream's `Lexer`).

/// Lexical tokens of the selector syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Token {
    EndOfString,
    ClosedPar,
    Comma,
    /// `!`
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Clone, Debug)]
pub(super) struct ScannedItem {
    pub(super) token: Token,
    pub(super) literal: String,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn symbol_token(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

/// Splits the input into tokens. Every special character is a token by itself and `==`/`!=`
/// are the only two-character ones; anything else up to a special character or whitespace is
/// an identifier, except the keywords `in` and `notin`.
pub(super) fn scan(input: &str) -> Vec<ScannedItem> {
    let bytes = input.as_bytes();
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        if pos >= bytes.len() {
            items.push(ScannedItem { token: Token::EndOfString, literal: String::new() });
            return items;
        }
        let start = pos;
        if is_special_symbol(bytes[pos]) {
            // Longest run of special characters that still forms a known symbol.
            let mut end = pos + 1;
            if end < bytes.len() && symbol_token(&input[start..end + 1]).is_some() {
                end += 1;
            }
            let literal = &input[start..end];
            let token = symbol_token(literal).expect("every special character is a symbol");
            items.push(ScannedItem { token, literal: literal.to_string() });
            pos = end;
        } else {
            while pos < bytes.len() && !is_special_symbol(bytes[pos]) && !is_whitespace(bytes[pos]) {
                pos += 1;
            }
            let literal = &input[start..pos];
            let token = match literal {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier,
            };
            items.push(ScannedItem { token, literal: literal.to_string() });
        }
    }
}
