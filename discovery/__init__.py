"""How peers find each other: mDNS, static peer lists, ad-hoc pairing by code or QR."""
