"""Synthetic images that carry provenance metadata, for tests and the simulation (see evidence/provenance.py).

Each marking is one way real generators label their output, applied to a benign generated pattern:
``c2pa`` (a C2PA manifest signed with a throwaway certificate made here, never a real signer's), ``xmp``
(IPTC DigitalSourceType in an XMP packet), ``pngtext`` (a Stable Diffusion web UI ``parameters`` chunk),
``exif`` (EXIF Software naming a generator) and ``stripped`` (the same pattern, every marking removed: what
most AI images look like after a re-upload).
"""

from __future__ import annotations

import datetime
import functools
import io
import json

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from hotline.sim.images import make_image

IPTC_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"  # the vocabulary evidence/provenance.py reads
MARKINGS = ("c2pa", "xmp", "pngtext", "exif", "stripped")
GENERATOR = "SynthGen test generator"
_PARAMETERS = "abstract gradient pattern\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: {seed}, Model: synth-test"
_XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'Iptc4xmpExt:DigitalSourceType="{prefix}{kind}"/></rdf:RDF></x:xmpmeta>')


def marked_image(marking: str, seed: int, *, source_type: str = "trainedAlgorithmicMedia",
                 size: tuple[int, int] = (64, 48)) -> tuple[bytes, str]:
    """A generated pattern carrying ``marking``; returns ``(bytes, mime)``."""
    if marking == "c2pa":
        return with_c2pa(make_image("png", seed, size), "image/png", source_type=source_type), "image/png"
    if marking == "xmp":
        return with_xmp_jpeg(make_image("jpeg", seed, size), source_type), "image/jpeg"
    if marking == "pngtext":
        info = PngInfo()
        info.add_text("parameters", _PARAMETERS.format(seed=seed))
        return _resave_png(make_image("png", seed, size), info), "image/png"
    if marking == "exif":
        with Image.open(io.BytesIO(make_image("jpeg", seed, size))) as image:
            exif = image.getexif()
            exif[0x0131] = "Midjourney (synthetic test tag)"
            out = io.BytesIO()
            image.save(out, "JPEG", exif=exif, quality=90)
        return out.getvalue(), "image/jpeg"
    if marking == "stripped":
        return make_image("jpeg", seed, size), "image/jpeg"
    raise ValueError(f"unknown marking {marking!r}; one of {', '.join(MARKINGS)}")


def with_xmp_jpeg(jpeg: bytes, source_type: str) -> bytes:
    """``jpeg`` with an APP1 XMP segment stating the IPTC digital source type."""
    packet = _XMP.format(prefix=IPTC_PREFIX, kind=source_type).encode()
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]


def with_xmp_png(png: bytes, source_type: str) -> bytes:
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", _XMP.format(prefix=IPTC_PREFIX, kind=source_type))
    return _resave_png(png, info)


def with_c2pa(data: bytes, mime: str, *, source_type: str = "trainedAlgorithmicMedia",
              generator: str = GENERATOR) -> bytes:
    """``data`` with a C2PA manifest whose ``c2pa.created`` action names ``source_type``, signed by a test key."""
    import c2pa  # type: ignore[import-untyped]

    manifest = {
        "claim_generator_info": [{"name": "hotline simulation", "version": "1"}],
        "title": "synthetic pattern",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created", "digitalSourceType": IPTC_PREFIX + source_type,
            "softwareAgent": {"name": generator}}]}}],
    }
    chain, key = _test_signer()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain, key, None))
    out = io.BytesIO()
    c2pa.Builder(json.dumps(manifest)).sign(signer, mime, io.BytesIO(data), out)
    return out.getvalue()


@functools.lru_cache(maxsize=1)
def _test_signer() -> tuple[bytes, bytes]:
    """A throwaway CA and an ES256 signing certificate, made once per process (C2PA refuses self-signed)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hotline simulation")])

    def usage(*, sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=not sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=sign, crl_sign=sign,
                             encipher_only=False, decipher_only=False)

    # A fixed, wide validity: the native signer reads the real clock, while simulations and tests move
    # Python's clock (time-machine) months away from it; a window around "now" would miss one of the two.
    valid_from, valid_until = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC), datetime.datetime(
        2099, 12, 31, tzinfo=datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def builder(subject: str, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name("Simulation test CA"))
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(valid_from).not_valid_after(valid_until))

    ca = (builder("Simulation test CA", ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(usage(sign=True), critical=True).sign(ca_key, hashes.SHA256()))
    leaf = (builder("Simulation test signer", key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    return chain, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _resave_png(png: bytes, info: PngInfo) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        out = io.BytesIO()
        image.save(out, "PNG", pnginfo=info)
    return out.getvalue()
