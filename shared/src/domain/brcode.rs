//! BR Code: the EMV® QRCPS Merchant-Presented Mode payload Pix uses for QR codes and
//! "Pix Copia e Cola". Encoder and decoder, with CRC16/CCITT-FALSE and the Pix field rules
//! (GUI `br.gov.bcb.pix`, name <= 25 and city <= 15 without accents, static txid <= 25
//! characters or `***`, dynamic codes carry a payload location URL). The encoder keeps
//! every rule; the decoder reads what other PSPs issue as long as its structure and CRC
//! hold: accented, longer names and cities, lengths counted in characters or in bytes. Also the Pix Automático
//! codes that start a recurrence from a QR, carrying its location in template 80: "recurrence
//! only" (journey 2) and "immediate payment + recurrence" (journeys 3 and 4).

use super::money::Amount;
use super::text::{ascii_fold, truncate_ascii};
use serde::Serialize;

pub const PIX_GUI: &str = "br.gov.bcb.pix";
/// The longest payload the API Pix accepts (`pixCopiaECola` maxLength).
pub const MAX_PAYLOAD_LEN: usize = 512;
const MAX_NAME: usize = 25;
const MAX_CITY: usize = 15;
const MAX_STATIC_TXID: usize = 25;
const MAX_LOCATION: usize = 77;
/// The txid placeholder of dynamic codes and of static codes without a txid.
pub const NO_TXID: &str = "***";

/// CRC16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no xor-out.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// Why a payload is not a valid Pix BR Code, or a code cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrCodeError {
    /// Empty or over `MAX_PAYLOAD_LEN` characters; when building, the payload came out too long.
    #[error("payload is empty or longer than {MAX_PAYLOAD_LEN} characters")]
    Length,
    /// A control character (a line break, a NUL): no code carries one.
    #[error("payload contains control characters")]
    Charset,
    /// An id or length is not two digits, or a value runs past its end; carries the offset.
    #[error("payload is not a sequence of EMV fields (broken at character {0})")]
    Structure(usize),
    /// The last field is not `63` with 4 hex digits.
    #[error("payload does not end with a CRC field (6304 + 4 hex digits)")]
    MissingCrc,
    /// The CRC-16 does not match the content: a mistyped or altered payload.
    #[error("CRC mismatch: payload says {found}, content gives {computed}")]
    Crc { found: String, computed: String },
    /// A required field is absent; carries its id (`62.05` for a sub-field).
    #[error("required field {0} is missing")]
    Missing(&'static str),
    /// A field has a wrong value or length, on decode or when building a code; carries which.
    #[error("field {0} is invalid")]
    Invalid(&'static str),
}

/// The Pix merchant account information template (IDs 26-51, GUI `br.gov.bcb.pix`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PixAccount {
    /// 01: the receiver's Pix key (static codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chave: Option<String>,
    /// 02: free text for the payer (static codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_adicional: Option<String>,
    /// 25: payload location URL without scheme (dynamic codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A decoded (or to-be-encoded) Pix BR Code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrCode {
    /// 01: `"11"` reusable, `"12"` single use; absent on many static codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point_of_initiation: Option<String>,
    pub account: PixAccount,
    /// 52: merchant category code, `"0000"` when not informed.
    pub mcc: String,
    /// 54: transaction amount, when the code fixes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    pub merchant_name: String,
    pub merchant_city: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// 62-05: the txid, or `***` when none.
    pub txid: String,
    /// 80-99 templates that carry a Pix GUI and URL (Pix Automático recurrence locations);
    /// encoded in order as templates 80, 81, ... just before the CRC.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recurrence_urls: Vec<String>,
    /// 63: the CRC as found (or computed, when encoding).
    pub crc: String,
}

/// What a builder needs to make a code; names and cities are folded to ASCII and cut.
pub struct Receiver<'a> {
    pub name: &'a str,
    pub city: &'a str,
}

impl BrCode {
    /// A dynamic code pointing at a payload location (`pix.example.com/qr/v2/...`).
    pub fn dynamic(location: &str, receiver: &Receiver<'_>) -> Result<Self, BrCodeError> {
        check_location(location, "26.25")?;
        Ok(BrCode {
            point_of_initiation: Some("12".into()),
            account: PixAccount { chave: None, info_adicional: None, url: Some(location.into()) },
            mcc: "0000".into(),
            amount: None,
            merchant_name: fold_to(receiver.name, MAX_NAME, "59")?,
            merchant_city: fold_to(receiver.city, MAX_CITY, "60")?,
            postal_code: None,
            txid: NO_TXID.into(),
            recurrence_urls: vec![],
            crc: String::new(),
        })
    }

    /// A Pix Automático "recurrence only" code (journey 2): no key, no charge location and no
    /// amount; template 80 points at the recurrence location (`pix.example.com/qr/v2/rec/...`).
    pub fn recurrence_only(location: &str, receiver: &Receiver<'_>) -> Result<Self, BrCodeError> {
        check_location(location, "80.25")?;
        Ok(BrCode {
            point_of_initiation: None,
            account: PixAccount { chave: None, info_adicional: None, url: None },
            mcc: "0000".into(),
            amount: None,
            merchant_name: fold_to(receiver.name, MAX_NAME, "59")?,
            merchant_city: fold_to(receiver.city, MAX_CITY, "60")?,
            postal_code: None,
            txid: NO_TXID.into(),
            recurrence_urls: vec![location.into()],
            crc: String::new(),
        })
    }

    /// Turns a dynamic code into an "immediate payment + recurrence" code (journeys 3 and 4) by
    /// setting its recurrence location (template 80), replacing any already set. Static codes
    /// are refused: the manual only composes a recurrence with a charge location.
    pub fn with_recurrence(mut self, location: &str) -> Result<Self, BrCodeError> {
        if self.account.url.is_none() {
            return Err(BrCodeError::Missing("26.25"));
        }
        check_location(location, "80.25")?;
        self.recurrence_urls = vec![location.into()];
        Ok(self)
    }

    /// A static code for a Pix key, optionally with an amount, a txid and a message.
    pub fn static_code(
        chave: &str,
        amount: Option<Amount>,
        txid: Option<&str>,
        info: Option<&str>,
        receiver: &Receiver<'_>,
    ) -> Result<Self, BrCodeError> {
        let txid = match txid {
            None => NO_TXID.to_owned(),
            Some(t) if !t.is_empty() && t.len() <= MAX_STATIC_TXID && t.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                t.to_owned()
            }
            Some(_) => return Err(BrCodeError::Invalid("62.05")),
        };
        let info = info.map(ascii_fold).filter(|i| !i.is_empty());
        Ok(BrCode {
            point_of_initiation: None,
            account: PixAccount { chave: Some(chave.to_owned()), info_adicional: info, url: None },
            mcc: "0000".into(),
            amount: amount.map(|a| a.to_string()),
            merchant_name: fold_to(receiver.name, MAX_NAME, "59")?,
            merchant_city: fold_to(receiver.city, MAX_CITY, "60")?,
            postal_code: None,
            txid,
            recurrence_urls: vec![],
            crc: String::new(),
        })
    }

    /// The payload string, CRC included.
    pub fn encode(&self) -> Result<String, BrCodeError> {
        let mut account = String::new();
        tlv(&mut account, 0, PIX_GUI)?;
        if let Some(k) = &self.account.chave {
            tlv(&mut account, 1, k)?;
        }
        if let Some(i) = &self.account.info_adicional {
            tlv(&mut account, 2, i)?;
        }
        if let Some(u) = &self.account.url {
            tlv(&mut account, 25, u)?;
        }
        let mut additional = String::new();
        tlv(&mut additional, 5, &self.txid)?;

        let mut out = String::new();
        tlv(&mut out, 0, "01")?;
        if let Some(p) = &self.point_of_initiation {
            tlv(&mut out, 1, p)?;
        }
        tlv(&mut out, 26, &account).map_err(|_| BrCodeError::Invalid("26"))?;
        tlv(&mut out, 52, &self.mcc)?;
        tlv(&mut out, 53, "986")?;
        if let Some(a) = &self.amount {
            tlv(&mut out, 54, a)?;
        }
        tlv(&mut out, 58, "BR")?;
        tlv(&mut out, 59, &self.merchant_name)?;
        tlv(&mut out, 60, &self.merchant_city)?;
        if let Some(p) = &self.postal_code {
            tlv(&mut out, 61, p)?;
        }
        tlv(&mut out, 62, &additional)?;
        for (i, url) in self.recurrence_urls.iter().enumerate() {
            let id = 80 + i;
            if id > 99 {
                return Err(BrCodeError::Invalid("80-99"));
            }
            // Checked here too: the field is public, and a URL over 77 characters would not fit
            // the 99 characters of the template.
            check_location(url, "80.25")?;
            let mut template = String::new();
            tlv(&mut template, 0, PIX_GUI)?;
            tlv(&mut template, 25, url)?;
            tlv(&mut out, id as u8, &template).map_err(|_| BrCodeError::Invalid("80"))?;
        }
        out.push_str("6304");
        let crc = format!("{:04X}", crc16(out.as_bytes()));
        out.push_str(&crc);
        if out.len() > MAX_PAYLOAD_LEN {
            return Err(BrCodeError::Length);
        }
        Ok(out)
    }

    /// Decodes a payload, checking its structure, its CRC and the Pix required fields.
    /// Tolerant of what codes in circulation carry (Bacen's maintainers ask receivers to be,
    /// in the informational fields: pix-api issue 128): accented names and cities, and
    /// names and cities longer than the encoder writes. Field lengths count characters, as
    /// EMV says; a code with accents whose lengths count UTF-8 bytes instead (some issuers'
    /// do) is read that way when it does not parse the first. The CRC is over the bytes.
    pub fn decode(payload: &str) -> Result<Self, BrCodeError> {
        if payload.chars().any(char::is_control) {
            return Err(BrCodeError::Charset);
        }
        if payload.is_empty() || payload.chars().count() > MAX_PAYLOAD_LEN {
            return Err(BrCodeError::Length);
        }
        match Self::decode_counting(payload, Count::Chars) {
            Err(e) if !payload.is_ascii() => Self::decode_counting(payload, Count::Bytes).map_err(|_| e),
            decoded => decoded,
        }
    }

    fn decode_counting(payload: &str, count: Count) -> Result<Self, BrCodeError> {
        let parse_tlvs = |s, base| parse_tlvs(s, base, count);
        let fields = parse_tlvs(payload, 0)?;
        let Some(&(63, crc_found, crc_at)) = fields.last() else {
            return Err(BrCodeError::MissingCrc);
        };
        if crc_found.len() != 4 || !crc_found.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BrCodeError::MissingCrc);
        }
        let computed = format!("{:04X}", crc16(&payload.as_bytes()[..crc_at + 4]));
        if !computed.eq_ignore_ascii_case(crc_found) {
            return Err(BrCodeError::Crc { found: crc_found.to_owned(), computed });
        }
        if fields.first().map(|f| (f.0, f.1)) != Some((0, "01")) {
            return Err(BrCodeError::Invalid("00"));
        }
        let get = |id: u8| fields.iter().find(|f| f.0 == id).map(|f| f.1);

        // The Pix account may sit in any of the templates 26 to 51: find it by its GUI.
        let mut account = None;
        let mut recurrence_urls = vec![];
        for &(id, value, at) in &fields {
            let is_template = (26..=51).contains(&id) || (80..=99).contains(&id);
            if !is_template {
                continue;
            }
            let sub = parse_tlvs(value, at + 4)?;
            let sub_get = |sid: u8| sub.iter().find(|f| f.0 == sid).map(|f| f.1.to_owned());
            if !sub_get(0).is_some_and(|g| g.eq_ignore_ascii_case(PIX_GUI)) {
                continue;
            }
            if (26..=51).contains(&id) && account.is_none() {
                account = Some(PixAccount { chave: sub_get(1), info_adicional: sub_get(2), url: sub_get(25) });
            } else if (80..=99).contains(&id) {
                recurrence_urls.extend(sub_get(25));
            }
        }
        let account = account.ok_or(BrCodeError::Missing("26 (br.gov.bcb.pix)"))?;
        if account.chave.is_some() && account.url.is_some() {
            return Err(BrCodeError::Invalid("26"));
        }

        let required = |id: u8, name: &'static str| get(id).ok_or(BrCodeError::Missing(name));
        if required(53, "53")? != "986" {
            return Err(BrCodeError::Invalid("53"));
        }
        if required(58, "58")? != "BR" {
            return Err(BrCodeError::Invalid("58"));
        }
        // Longer than the 25 and 15 characters Pix asks of them happens in codes issued by
        // banks; they are shown, never used to route money.
        let name = required(59, "59")?;
        if name.trim().is_empty() {
            return Err(BrCodeError::Invalid("59"));
        }
        let city = required(60, "60")?;
        if city.trim().is_empty() {
            return Err(BrCodeError::Invalid("60"));
        }
        let (additional, at) =
            fields.iter().find(|f| f.0 == 62).map(|f| (f.1, f.2)).ok_or(BrCodeError::Missing("62"))?;
        let txid = parse_tlvs(additional, at + 4)?
            .into_iter()
            .find(|f| f.0 == 5)
            .map(|f| f.1.to_owned())
            .ok_or(BrCodeError::Missing("62.05"))?;
        let amount = get(54).map(str::to_owned);
        if let Some(a) = &amount {
            // EMV allows "10", "10.5" and "10.50"; all must be positive decimals.
            let ok = !a.is_empty()
                && a.len() <= 13
                && a.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && a.matches('.').count() <= 1;
            if !ok {
                return Err(BrCodeError::Invalid("54"));
            }
        }
        Ok(BrCode {
            point_of_initiation: get(1).map(str::to_owned),
            account,
            mcc: required(52, "52")?.to_owned(),
            amount,
            merchant_name: name.to_owned(),
            merchant_city: city.to_owned(),
            postal_code: get(61).map(str::to_owned),
            txid,
            recurrence_urls,
            crc: crc_found.to_ascii_uppercase(),
        })
    }

    /// The amount field as exact centavos, when present and expressible.
    pub fn amount(&self) -> Option<Amount> {
        let a = self.amount.as_deref()?;
        let (int, frac) = a.split_once('.').unwrap_or((a, ""));
        let frac = format!("{frac:0<2}");
        if frac.len() != 2 || int.is_empty() {
            return None;
        }
        Amount::parse(&format!("{int}.{frac}")).ok()
    }
}

fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7E).contains(&b))
}

/// A payload location URL (without scheme) as fields 26.25 and 80.25 take it.
fn check_location(location: &str, field: &'static str) -> Result<(), BrCodeError> {
    if location.is_empty() || location.len() > MAX_LOCATION || !is_printable(location) {
        return Err(BrCodeError::Invalid(field));
    }
    Ok(())
}

fn fold_to(s: &str, max: usize, field: &'static str) -> Result<String, BrCodeError> {
    let folded = ascii_fold(s);
    let cut = truncate_ascii(&folded, max).trim_end().to_owned();
    if cut.is_empty() {
        return Err(BrCodeError::Invalid(field));
    }
    Ok(cut)
}

fn tlv(out: &mut String, id: u8, value: &str) -> Result<(), BrCodeError> {
    if value.len() > 99 || !is_printable(value) {
        return Err(BrCodeError::Invalid("field length"));
    }
    out.push_str(&format!("{id:02}{:02}{value}", value.len()));
    Ok(())
}

/// Splits `s` into (id, value, offset of the id in the whole payload) triples.
/// What a field's length counts.
#[derive(Debug, Clone, Copy)]
enum Count {
    /// Characters, as EMV says (the same as bytes in an ASCII code).
    Chars,
    /// UTF-8 bytes, as some issuers count accented names.
    Bytes,
}

/// The fields of `s`, each `(id, value, byte offset of its id)`; `base` is `s`'s own offset
/// in the payload.
fn parse_tlvs(s: &str, base: usize, count: Count) -> Result<Vec<(u8, &str, usize)>, BrCodeError> {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let num = |from: usize| -> Option<usize> {
            let d = b.get(from..from + 2)?;
            d.iter().all(u8::is_ascii_digit).then(|| usize::from(d[0] - b'0') * 10 + usize::from(d[1] - b'0'))
        };
        let id = num(i).ok_or(BrCodeError::Structure(base + i))?;
        let len = num(i + 2).ok_or(BrCodeError::Structure(base + i + 2))?;
        let start = i + 4;
        let end = match count {
            Count::Bytes => Some(start + len),
            Count::Chars => s
                .get(start..)
                .and_then(|rest| rest.char_indices().map(|(j, _)| start + j).chain(std::iter::once(s.len())).nth(len)),
        };
        let value = end.and_then(|end| s.get(start..end)).ok_or(BrCodeError::Structure(base + start))?;
        out.push((id as u8, value, base + i));
        i = start + value.len();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every example BR Code found in the Bacen API Pix 2.9.0 specification.
    const SPEC_EXAMPLES: [&str; 3] = [
        "00020126180014br.gov.bcb.pix5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***80800014br.gov.bcb.pix2558pix.example.com/qr/v2/rec/2353c790eefb11eaadc10242ac120002630462C9",
        "00020101021226760014br.gov.bcb.pix2554pix.example.com/qr/v2/8b3da2f39a4140d1a91abd93113bd4415204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***80800014br.gov.bcb.pix2558pix.example.com/qr/v2/rec/94ed2badcbc04c15b0bb7fa35319489063047741",
        "00020101021226810014br.gov.bcb.pix2559pix.example.com/qr/v2/cobv/1e6c54d3ec9449b7a7fc53b6b0f998e75204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***80800014br.gov.bcb.pix2558pix.example.com/qr/v2/rec/3ffa640fa4f14080adccb949fa2dc0d06304A441",
    ];

    #[test]
    fn every_spec_example_decodes_with_a_valid_crc() {
        for code in SPEC_EXAMPLES {
            let decoded = BrCode::decode(code).unwrap_or_else(|e| panic!("{e}: {code}"));
            assert_eq!(decoded.merchant_name, "Fulano de Tal");
            assert_eq!(decoded.merchant_city, "BRASILIA");
            assert_eq!(decoded.txid, NO_TXID);
            assert_eq!(decoded.recurrence_urls.len(), 1);
        }
        let dynamic = BrCode::decode(SPEC_EXAMPLES[1]).unwrap();
        assert_eq!(dynamic.account.url.as_deref(), Some("pix.example.com/qr/v2/8b3da2f39a4140d1a91abd93113bd441"));
        assert_eq!(dynamic.point_of_initiation.as_deref(), Some("12"));
    }

    #[test]
    fn crc_matches_the_ccitt_false_check_value() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }

    #[test]
    fn a_single_changed_character_fails_the_crc() {
        let tampered = SPEC_EXAMPLES[1].replacen("Fulano", "Fulana", 1);
        assert!(matches!(BrCode::decode(&tampered), Err(BrCodeError::Crc { .. })));
    }

    #[test]
    fn structural_garbage_is_an_error_not_a_panic() {
        for bad in ["", "0002", "000201", "0002016304ABCD", "zz", "00020126", "0002016304", "00990101"] {
            assert!(BrCode::decode(bad).is_err(), "{bad:?}");
        }
        assert_eq!(BrCode::decode("0002\u{0}1"), Err(BrCodeError::Charset));
        assert_eq!(BrCode::decode("000201\n"), Err(BrCodeError::Charset));
        for accented in ["0002é1", "00é", "0002010103é", &"é".repeat(MAX_PAYLOAD_LEN)] {
            let refused = BrCode::decode(accented);
            assert!(matches!(refused, Err(BrCodeError::Structure(_) | BrCodeError::MissingCrc)), "{accented:?}");
        }
        // The limit counts characters, not bytes.
        assert_eq!(BrCode::decode(&"é".repeat(MAX_PAYLOAD_LEN + 1)), Err(BrCodeError::Length));
        assert_eq!(BrCode::decode(&"0".repeat(MAX_PAYLOAD_LEN + 1)), Err(BrCodeError::Length));
        assert_eq!(BrCode::decode(""), Err(BrCodeError::Length));
    }

    /// Fields as another PSP may write them: lengths in characters or (`bytes`) in UTF-8 bytes.
    fn fields(list: &[(u8, &str)], bytes: bool) -> String {
        list.iter().map(|(id, v)| format!("{id:02}{:02}{v}", if bytes { v.len() } else { v.chars().count() })).collect()
    }

    /// A whole code with its CRC (over the bytes, "6304" included).
    fn issued(bytes: bool) -> String {
        let account = fields(&[(0, PIX_GUI), (1, "fornecedor@example.com")], bytes);
        let additional = fields(&[(5, "***")], bytes);
        let mut code = fields(
            &[
                (0, "01"),
                (26, &account),
                (52, "0000"),
                (53, "986"),
                (54, "10.00"),
                (58, "BR"),
                (59, "DISTRIBUIDORA DE ALIMENTOS JARAGUÁ LTDA"),
                (60, "JARAGUÁ DO SUL"),
                (62, &additional),
            ],
            bytes,
        );
        code.push_str("6304");
        let crc = format!("{:04X}", crc16(code.as_bytes()));
        code + &crc
    }

    #[test]
    fn codes_other_banks_issue_with_accented_and_long_names_are_read_whichever_way_they_count() {
        // bacen/pix-api issue 318: a bank's code with a 33-character name and "Jaraguá".
        for bytes in [false, true] {
            let code = issued(bytes);
            let decoded = BrCode::decode(&code).unwrap_or_else(|e| panic!("{e}: {code}"));
            assert_eq!(decoded.merchant_name, "DISTRIBUIDORA DE ALIMENTOS JARAGUÁ LTDA");
            assert_eq!(decoded.merchant_city, "JARAGUÁ DO SUL");
            assert_eq!(decoded.account.chave.as_deref(), Some("fornecedor@example.com"));
            assert_eq!(decoded.amount(), Amount::parse("10.00").ok());
        }
        // Its CRC still guards it.
        let tampered = issued(false).replacen("10.00", "90.00", 1);
        assert!(matches!(BrCode::decode(&tampered), Err(BrCodeError::Crc { .. })));
    }

    #[test]
    fn dynamic_codes_fold_accents_and_cut_long_names() {
        let r = Receiver { name: "Padaria Pão de Açúcar da Esquina Ltda", city: "São José dos Campos" };
        let code = BrCode::dynamic("pix.example.com/qr/v2/2353c790eefb11eaadc10242ac120002", &r).unwrap();
        let decoded = BrCode::decode(&code.encode().unwrap()).unwrap();
        assert_eq!(decoded.merchant_name, "Padaria Pao de Acucar da");
        assert_eq!(decoded.merchant_city, "Sao Jose dos Ca");
        assert_eq!(decoded.txid, "***");
    }

    #[test]
    fn static_txid_longer_than_25_is_refused() {
        let r = Receiver { name: "Loja", city: "Recife" };
        assert!(BrCode::static_code("loja@example.com", None, Some(&"a".repeat(26)), None, &r).is_err());
    }

    const REC_0: &str = "pix.example.com/qr/v2/rec/2353c790eefb11eaadc10242ac120002";
    const COB_1: &str = "pix.example.com/qr/v2/8b3da2f39a4140d1a91abd93113bd441";
    const REC_1: &str = "pix.example.com/qr/v2/rec/94ed2badcbc04c15b0bb7fa353194890";
    const COBV_2: &str = "pix.example.com/qr/v2/cobv/1e6c54d3ec9449b7a7fc53b6b0f998e7";
    const REC_2: &str = "pix.example.com/qr/v2/rec/3ffa640fa4f14080adccb949fa2dc0d0";

    fn fulano() -> Receiver<'static> {
        Receiver { name: "Fulano de Tal", city: "BRASILIA" }
    }

    fn assert_crc_is_valid(payload: &str) {
        let (content, crc) = payload.split_at(payload.len() - 4);
        assert!(content.ends_with("6304"), "{payload}");
        assert_eq!(crc, format!("{:04X}", crc16(content.as_bytes())), "{payload}");
    }

    #[test]
    fn spec_recurrence_only_example_reads_the_recurrence_url_and_no_charge() {
        let decoded = BrCode::decode(SPEC_EXAMPLES[0]).unwrap();
        assert_eq!(decoded.recurrence_urls, vec![REC_0.to_owned()]);
        assert_eq!(decoded.account, PixAccount { chave: None, info_adicional: None, url: None });
        assert_eq!(decoded.point_of_initiation, None);
        assert_eq!(decoded.amount, None);
        assert_eq!(decoded.crc, "62C9");
    }

    #[test]
    fn spec_composite_examples_read_both_the_charge_and_the_recurrence_url() {
        for (code, charge, recurrence) in [(SPEC_EXAMPLES[1], COB_1, REC_1), (SPEC_EXAMPLES[2], COBV_2, REC_2)] {
            let decoded = BrCode::decode(code).unwrap();
            assert_eq!(decoded.account.url.as_deref(), Some(charge));
            assert_eq!(decoded.account.chave, None);
            assert_eq!(decoded.recurrence_urls, vec![recurrence.to_owned()]);
            assert_eq!(decoded.point_of_initiation.as_deref(), Some("12"));
        }
    }

    #[test]
    fn spec_examples_re_encode_to_the_same_payload() {
        for code in SPEC_EXAMPLES {
            assert_eq!(BrCode::decode(code).unwrap().encode().unwrap(), code);
        }
    }

    #[test]
    fn recurrence_only_code_matches_the_spec_example() {
        let payload = BrCode::recurrence_only(REC_0, &fulano()).unwrap().encode().unwrap();
        assert_eq!(payload, SPEC_EXAMPLES[0]);
        assert_crc_is_valid(&payload);
    }

    #[test]
    fn composite_codes_match_the_spec_examples() {
        let cob = BrCode::dynamic(COB_1, &fulano()).unwrap().with_recurrence(REC_1).unwrap();
        assert_eq!(cob.encode().unwrap(), SPEC_EXAMPLES[1]);
        let cobv = BrCode::dynamic(COBV_2, &fulano()).unwrap().with_recurrence(REC_2).unwrap();
        assert_eq!(cobv.encode().unwrap(), SPEC_EXAMPLES[2]);
    }

    #[test]
    fn recurrence_only_code_decodes_back_to_its_url_name_and_city() {
        let r = Receiver { name: "Academia São João", city: "Ribeirão Preto" };
        let rec = "pix.example.com/qr/v2/rec/0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        let payload = BrCode::recurrence_only(rec, &r).unwrap().encode().unwrap();
        assert_crc_is_valid(&payload);
        let decoded = BrCode::decode(&payload).unwrap();
        assert_eq!(decoded.recurrence_urls, vec![rec.to_owned()]);
        assert_eq!(decoded.account.url, None);
        assert_eq!(decoded.merchant_name, "Academia Sao Joao");
        assert_eq!(decoded.merchant_city, "Ribeirao Preto");
        assert_eq!(decoded.point_of_initiation, None);
        assert_eq!(decoded.amount, None);
        assert!(payload.contains("53039865802BR"), "no amount field between 53 and 58: {payload}");
    }

    #[test]
    fn composite_code_decodes_back_to_both_urls_name_and_city() {
        let r = Receiver { name: "Academia São João", city: "Ribeirão Preto" };
        let cob = "pix.example.com/qr/v2/cobv/aa11bb22cc33dd44ee55ff6600778899";
        let rec = "pix.example.com/qr/v2/rec/0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        let payload = BrCode::dynamic(cob, &r).unwrap().with_recurrence(rec).unwrap().encode().unwrap();
        assert_crc_is_valid(&payload);
        let decoded = BrCode::decode(&payload).unwrap();
        assert_eq!(decoded.account.url.as_deref(), Some(cob));
        assert_eq!(decoded.recurrence_urls, vec![rec.to_owned()]);
        assert_eq!(decoded.merchant_name, "Academia Sao Joao");
        assert_eq!(decoded.merchant_city, "Ribeirao Preto");
        assert_eq!(decoded.point_of_initiation.as_deref(), Some("12"));
        // Template 80 sits right before the CRC.
        let crc_at = payload.len() - 8;
        assert!(payload[..crc_at].ends_with(&format!("2558{rec}")), "{payload}");
    }

    #[test]
    fn with_recurrence_replaces_rather_than_stacks() {
        let code = BrCode::dynamic(COB_1, &fulano()).unwrap().with_recurrence(REC_0).unwrap();
        let code = code.with_recurrence(REC_1).unwrap();
        assert_eq!(code.encode().unwrap(), SPEC_EXAMPLES[1]);
    }

    #[test]
    fn a_recurrence_url_of_77_characters_fits_and_78_is_refused() {
        let base = "pix.example.com/qr/v2/rec/";
        let longest = format!("{base}{}", "a".repeat(MAX_LOCATION - base.len()));
        let too_long = format!("{longest}a");
        assert_eq!(longest.len(), 77);

        let payload = BrCode::recurrence_only(&longest, &fulano()).unwrap().encode().unwrap();
        assert_eq!(BrCode::decode(&payload).unwrap().recurrence_urls, vec![longest.clone()]);
        let cob = format!("pix.example.com/qr/v2/{}", "b".repeat(55));
        let payload = BrCode::dynamic(&cob, &fulano()).unwrap().with_recurrence(&longest).unwrap().encode().unwrap();
        assert_eq!(BrCode::decode(&payload).unwrap().recurrence_urls, vec![longest.clone()]);

        assert_eq!(BrCode::recurrence_only(&too_long, &fulano()), Err(BrCodeError::Invalid("80.25")));
        let dynamic = BrCode::dynamic(COB_1, &fulano()).unwrap();
        assert_eq!(dynamic.with_recurrence(&too_long), Err(BrCodeError::Invalid("80.25")));
    }

    #[test]
    fn empty_or_non_ascii_recurrence_urls_are_refused() {
        for bad in ["", "pix.example.com/qr/v2/rec/ação"] {
            assert_eq!(BrCode::recurrence_only(bad, &fulano()), Err(BrCodeError::Invalid("80.25")), "{bad:?}");
            let dynamic = BrCode::dynamic(COB_1, &fulano()).unwrap();
            assert_eq!(dynamic.with_recurrence(bad), Err(BrCodeError::Invalid("80.25")), "{bad:?}");
        }
    }

    #[test]
    fn encoding_a_too_long_recurrence_url_set_by_hand_is_an_error_not_a_panic() {
        let mut code = BrCode::recurrence_only(REC_0, &fulano()).unwrap();
        code.recurrence_urls = vec!["x".repeat(MAX_LOCATION + 1)];
        assert_eq!(code.encode(), Err(BrCodeError::Invalid("80.25")));
        code.recurrence_urls = vec![REC_0.to_owned(); 21];
        assert!(code.encode().is_err());
    }

    #[test]
    fn a_static_code_cannot_carry_a_recurrence() {
        let code = BrCode::static_code("loja@example.com", None, None, None, &fulano()).unwrap();
        assert_eq!(code.with_recurrence(REC_0), Err(BrCodeError::Missing("26.25")));
    }

    proptest! {
        #[test]
        fn generated_composite_codes_decode_to_the_same_urls(
            charge in "pix\\.example\\.com/qr/v2/[a-z0-9]{1,55}",
            recurrence in "pix\\.example\\.com/qr/v2/rec/[a-z0-9]{1,51}",
            name in "[a-zA-Z][a-zA-Z ]{0,39}",
            city in "[a-zA-Z][a-zA-Z ]{0,19}",
        ) {
            let r = Receiver { name: &name, city: &city };
            let payload = BrCode::dynamic(&charge, &r).unwrap().with_recurrence(&recurrence).unwrap().encode().unwrap();
            let decoded = BrCode::decode(&payload).unwrap();
            prop_assert_eq!(decoded.account.url.as_deref(), Some(charge.as_str()));
            prop_assert_eq!(decoded.recurrence_urls, vec![recurrence.clone()]);

            let payload = BrCode::recurrence_only(&recurrence, &r).unwrap().encode().unwrap();
            let decoded = BrCode::decode(&payload).unwrap();
            prop_assert_eq!(decoded.account.url, None);
            prop_assert_eq!(decoded.recurrence_urls, vec![recurrence]);
        }

        #[test]
        fn generated_static_codes_decode_to_the_same_fields(
            chave in "[a-z]{1,20}@[a-z]{1,10}\\.com",
            centavos in proptest::option::of(1i64..999_999_999_999),
            txid in proptest::option::of("[a-zA-Z0-9]{1,25}"),
            info in proptest::option::of("[a-zA-Z0-9 ]{1,30}"),
            name in "[a-zA-Zà-ú ]{1,40}",
            city in "[a-zA-Zà-ú ]{1,20}",
        ) {
            let amount = centavos.map(|c| Amount::from_centavos(c).unwrap());
            let r = Receiver { name: &name, city: &city };
            prop_assume!(!ascii_fold(&name).is_empty() && !ascii_fold(&city).is_empty());
            let code = BrCode::static_code(&chave, amount, txid.as_deref(), info.as_deref(), &r).unwrap();
            let payload = code.encode().unwrap();
            let decoded = BrCode::decode(&payload).unwrap();
            prop_assert_eq!(decoded.account.chave.as_deref(), Some(chave.as_str()));
            prop_assert_eq!(decoded.amount(), amount);
            prop_assert_eq!(decoded.txid, txid.unwrap_or_else(|| "***".into()));
            prop_assert_eq!(&decoded.merchant_name, &code.merchant_name);
            prop_assert!(decoded.merchant_name.len() <= 25 && decoded.merchant_city.len() <= 15);
            prop_assert_eq!(decoded.account.info_adicional, code.account.info_adicional);
        }

        #[test]
        fn decode_never_panics(s in "[0-9a-z*. ]{0,120}") {
            let _ = BrCode::decode(&s);
        }
    }
}
