//! TLS code points, defined once for the workspace: record content types, handshake message
//! types, extension types and protocol versions (IANA "TLS Parameters" registries), GREASE and
//! the HelloRetryRequest marker.

/// Record content types.
pub mod content_type {
    /// change_cipher_spec
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert
    pub const ALERT: u8 = 21;
    /// handshake
    pub const HANDSHAKE: u8 = 22;
    /// application_data
    pub const APPLICATION_DATA: u8 = 23;
    /// heartbeat
    pub const HEARTBEAT: u8 = 24;
}

/// Handshake message types.
pub mod handshake_type {
    /// client_hello
    pub const CLIENT_HELLO: u8 = 1;
    /// server_hello (also HelloRetryRequest)
    pub const SERVER_HELLO: u8 = 2;
    /// new_session_ticket
    pub const NEW_SESSION_TICKET: u8 = 4;
    /// end_of_early_data (TLS 1.3)
    pub const END_OF_EARLY_DATA: u8 = 5;
    /// encrypted_extensions (TLS 1.3)
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    /// client_key_exchange (TLS ≤ 1.2)
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    /// finished
    pub const FINISHED: u8 = 20;
    /// key_update (TLS 1.3)
    pub const KEY_UPDATE: u8 = 24;
}

/// Extension types.
pub mod extension {
    /// server_name (SNI)
    pub const SERVER_NAME: u16 = 0;
    /// supported_groups
    pub const SUPPORTED_GROUPS: u16 = 10;
    /// ec_point_formats
    pub const EC_POINT_FORMATS: u16 = 11;
    /// signature_algorithms
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// application_layer_protocol_negotiation (ALPN)
    pub const ALPN: u16 = 16;
    /// encrypt_then_mac (RFC 7366)
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    /// extended_master_secret (RFC 7627)
    pub const EXTENDED_MASTER_SECRET: u16 = 23;
    /// session_ticket (RFC 5077)
    pub const SESSION_TICKET: u16 = 35;
    /// early_data (TLS 1.3)
    pub const EARLY_DATA: u16 = 42;
    /// supported_versions (TLS 1.3)
    pub const SUPPORTED_VERSIONS: u16 = 43;
    /// quic_transport_parameters (RFC 9001)
    pub const QUIC_TRANSPORT_PARAMETERS: u16 = 0x39;
    /// encrypted_client_hello (ECH)
    pub const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
}

/// Protocol versions as sent on the wire.
pub mod version {
    /// TLS 1.0
    pub const TLS1_0: u16 = 0x0301;
    /// TLS 1.1
    pub const TLS1_1: u16 = 0x0302;
    /// TLS 1.2
    pub const TLS1_2: u16 = 0x0303;
    /// TLS 1.3
    pub const TLS1_3: u16 = 0x0304;
}

/// SHA-256 of "HelloRetryRequest", the ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3).
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// GREASE values (RFC 8701) look like 0x?A?A.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Name of a protocol version ("TLSv1.3", …; "unknown" otherwise).
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0002 => "SSLv2",
        0x0300 => "SSLv3",
        version::TLS1_0 => "TLSv1.0",
        version::TLS1_1 => "TLSv1.1",
        version::TLS1_2 => "TLSv1.2",
        version::TLS1_3 => "TLSv1.3",
        0x7f00..=0x7fff => "TLSv1.3-draft",
        0xfeff => "DTLSv1.0",
        0xfefd => "DTLSv1.2",
        0xfefc => "DTLSv1.3",
        _ => "unknown",
    }
}
