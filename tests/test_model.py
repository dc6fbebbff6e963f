import torch

from ipinsights.addresses import ENCODER_LEVELS, parse_ips
from ipinsights.model import DESIGNS, LEVEL_BUCKETS, IPInsightsNet, ip_features, ipv4_features, table_rows


def features(texts):
    ok, hi, lo = parse_ips(texts)
    assert ok.all()
    return ip_features(torch.from_numpy(hi), torch.from_numpy(lo))


def test_ipv4_levels_index_the_8_and_16_bit_prefixes_exactly():
    f = features(["10.20.30.40", "10.20.99.1", "10.21.30.40"])
    assert f.levels[:, 0].tolist() == [10, 10, 10]
    assert f.levels[:, 1].tolist() == [10 * 256 + 20, 10 * 256 + 20, 10 * 256 + 21]


def test_addresses_sharing_a_prefix_share_that_level_and_levels_stay_in_their_tables():
    f = features(
        [
            "192.168.1.1",
            "192.168.1.200",
            "2001:db8:1:2::1",
            "2001:db8:1:2::ffff",
            "2001:db8:1:3::1",
            "2001:db8:2::1",
        ]
    )
    assert f.levels[0, 2] == f.levels[1, 2]  # same /24
    assert (f.levels[2] == f.levels[3]).all()  # same /64: the interface identifier is ignored
    assert (f.levels[2, :3] == f.levels[4, :3]).all() and f.levels[2, 3] != f.levels[
        4, 3
    ]  # same /56, different /64
    assert f.levels[2, 0] == f.levels[5, 0] and f.levels[2, 1] != f.levels[5, 1]  # same /32, different /48
    for level, buckets in enumerate(LEVEL_BUCKETS):
        assert (f.levels[:, level] >= 0).all() and (f.levels[:, level] < buckets).all()


def test_each_level_indexes_the_prefix_that_the_level_table_names_in_both_families():
    import ipaddress

    bases = {4: ipaddress.ip_address("203.0.113.77"), 6: ipaddress.ip_address("2001:db8:abcd:1234:5678:9abc:def0:1234")}
    for k, level in enumerate(ENCODER_LEVELS):
        for family, base in bases.items():
            total = 32 if family == 4 else 128
            bits = level.ipv4_bits if family == 4 else level.ipv6_bits
            # Flipping any bit below the prefix keeps the row; flipping the prefix's last bit (or, for
            # the hashed levels, any one of its last 8 bits) moves it.
            inside = [base.__class__(int(base) ^ (1 << i)) for i in range(total - bits)]
            outside = [base.__class__(int(base) ^ (1 << (total - bits + i))) for i in range(8)]
            f = features([str(a) for a in [base, *inside, *outside]])
            rows = f.levels[:, k].tolist()
            assert set(rows[: 1 + len(inside)]) == {rows[0]}, (level, family)
            assert rows[0] not in rows[1 + len(inside) :], (level, family)


def test_bit_features_make_every_ipv4_address_distinct():
    f = features(["0.0.0.0", "0.0.0.1", "128.0.0.0", "255.255.255.255"])
    assert f.bits.shape == (4, 97)
    assert len({tuple(row.tolist()) for row in f.bits}) == 4
    assert f.bits[0, :32].tolist() == [-1.0] * 32 and f.bits[3, :32].tolist() == [1.0] * 32
    assert (f.bits[:, 32:] == 0).all()  # no IPv6 bits for IPv4 addresses


def test_the_network_maps_entities_and_any_address_to_vectors_of_vector_dim():
    torch.manual_seed(0)
    net = IPInsightsNet(50, 12, 2)
    _ok, hi, lo = parse_ips(["1.2.3.4", "8.8.8.8", "2001:db8::1"])
    v = net.embed_ips(torch.from_numpy(hi), torch.from_numpy(lo))
    e = net.embed_entities(torch.tensor([0, 49, 7]))
    assert v.shape == e.shape == (3, 12) and torch.isfinite(v).all()


def test_zero_encoder_layers_is_allowed_and_sparse_and_dense_parameters_split_the_model():
    net = IPInsightsNet(10, 8, 0)
    sparse, dense = net.sparse_parameters(), net.dense_parameters()
    assert len(sparse) == 1 + len(net.ip.tables)
    assert {id(p) for p in sparse} | {id(p) for p in dense} == {id(p) for p in net.parameters()}
    assert not {id(p) for p in sparse} & {id(p) for p in dense}


def test_ipv4_only_features_are_the_general_features_without_the_zero_columns():
    texts = ["0.0.0.0", "10.20.30.40", "192.168.1.200", "255.255.255.255", "8.8.4.4"]
    general = features(texts)
    _ok, _hi, lo = parse_ips(texts)
    for levels in range(5):
        fast = ipv4_features(torch.from_numpy(lo), levels)
        assert torch.equal(fast.levels, general.levels[:, :levels])
        assert torch.equal(fast.bits, general.bits[:, :32])


def test_the_encoder_gives_the_same_vectors_and_gradients_from_ipv4_only_features():
    torch.manual_seed(1)
    _ok, hi, lo = parse_ips(["1.2.3.4", "1.2.9.9", "200.100.50.25", "1.2.3.4"])
    for design in DESIGNS:
        net = IPInsightsNet(10, 8, 2, ip_encoder=design)
        outputs, grads = [], []
        for f in (
            ip_features(torch.from_numpy(hi), torch.from_numpy(lo)),
            ipv4_features(torch.from_numpy(lo), len(net.ip.tables)),
        ):
            net.zero_grad(set_to_none=True)
            out = net.ip(f)
            (out * torch.arange(8.0)).sum().backward()
            outputs.append(out.detach())
            grads.append(
                [
                    p.grad.to_dense() if p.grad.is_sparse else p.grad
                    for p in net.parameters()
                    if p.grad is not None
                ]
            )
        torch.testing.assert_close(outputs[0], outputs[1])
        assert len(grads[0]) == len(grads[1])
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(
                a[..., :32] if a.shape[-1] == 97 else a, b[..., :32] if b.shape[-1] == 97 else b
            )


def test_table_rows_gives_embedding_values_and_one_coalesced_gradient_row_per_distinct_row():
    table = torch.randn(6, 3, requires_grad=True)
    rows = torch.tensor([4, 1, 4, 4, 0])
    weights = torch.randn(5, 3)
    (grad,) = torch.autograd.grad((table_rows(table, rows) * weights).sum(), [table])
    assert grad.is_sparse and grad.is_coalesced()
    assert grad.indices()[0].tolist() == [0, 1, 4]
    reference = table.detach().clone().requires_grad_(True)
    (torch.nn.functional.embedding(rows, reference) * weights).sum().backward()
    torch.testing.assert_close(grad.to_dense(), reference.grad)
    with torch.no_grad():
        assert torch.equal(table_rows(table, rows), table[rows])


def test_the_network_scores_pairs_in_chunks_as_one_dot_product_and_returns_vectors_when_asked():
    torch.manual_seed(0)
    net = IPInsightsNet(20, 8, 1)
    rows = torch.randint(0, 20, (11,))
    hi = torch.zeros(11, dtype=torch.int64)
    lo = torch.randint(0, 1 << 32, (11,)) | 0xFFFF_0000_0000
    hi[3], lo[3] = 0x20010DB8_00000000, 1  # an IPv6 address among them
    with torch.no_grad():
        e, v = net.embed_entities(rows), net.embed_ips(hi, lo)
    whole = net.score(rows, hi, lo, embeddings=True)
    chunked = net.score(rows, hi, lo, chunk=4)
    assert whole.dot_product.shape == (11,) and whole.dot_product.dtype == torch.float32
    assert not whole.dot_product.requires_grad
    torch.testing.assert_close(whole.dot_product, (e * v).sum(dim=1))
    torch.testing.assert_close(chunked.dot_product, whole.dot_product)
    assert torch.equal(whole.entity_vectors, e) and torch.equal(whole.ip_vectors, v)
    assert chunked.entity_vectors is None and chunked.ip_vectors is None
    assert net.score(rows[:0], hi[:0], lo[:0]).dot_product.shape == (0,)
