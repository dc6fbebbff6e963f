import torch

from ipinsights.data import parse_ips
from ipinsights.model import LEVEL_BUCKETS, IPInsightsNet, ip_features


def features(texts):
    ok, hi, lo = parse_ips(texts)
    assert ok.all()
    return ip_features(torch.from_numpy(hi), torch.from_numpy(lo))


def test_ipv4_levels_index_the_8_and_16_bit_prefixes_exactly():
    f = features(["10.20.30.40", "10.20.99.1", "10.21.30.40"])
    assert f.levels[:, 0].tolist() == [10, 10, 10]
    assert f.levels[:, 1].tolist() == [10 * 256 + 20, 10 * 256 + 20, 10 * 256 + 21]


def test_addresses_sharing_a_prefix_share_that_level_and_levels_stay_in_their_tables():
    f = features(["192.168.1.1", "192.168.1.200", "2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:3::1", "2001:db8:2::1"])
    assert f.levels[0, 2] == f.levels[1, 2]  # same /24
    assert (f.levels[2] == f.levels[3]).all()  # same /64: the interface identifier is ignored
    assert (f.levels[2, :3] == f.levels[4, :3]).all() and f.levels[2, 3] != f.levels[4, 3]  # same /56, different /64
    assert f.levels[2, 0] == f.levels[5, 0] and f.levels[2, 1] != f.levels[5, 1]  # same /32, different /48
    for level, buckets in enumerate(LEVEL_BUCKETS):
        assert (f.levels[:, level] >= 0).all() and (f.levels[:, level] < buckets).all()


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
