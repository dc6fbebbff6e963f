import torch

from ipinsights.optim import LazyAdam


def test_lazy_adam_equals_adam_when_every_row_is_touched_every_step():
    torch.manual_seed(0)
    dense = torch.nn.Parameter(torch.randn(6, 4))
    lazy = torch.nn.Parameter(dense.detach().clone())
    opt_dense = torch.optim.Adam([dense], lr=0.05, weight_decay=0.01)
    opt_lazy = LazyAdam([lazy], lr=0.05, weight_decay=0.01)
    rows = torch.tensor([0, 1, 2, 3, 4, 5, 2, 0])  # repeated rows: gradients must add up
    for _ in range(5):
        target = torch.randn(8, 4)
        for param, opt, sparse in ((dense, opt_dense, False), (lazy, opt_lazy, True)):
            opt.zero_grad()
            loss = ((torch.nn.functional.embedding(rows, param, sparse=sparse) - target) ** 2).sum()
            loss.backward()
            opt.step()
    assert torch.allclose(dense, lazy, atol=1e-5)  # float32 rounding of a differently ordered formula


def test_lazy_adam_leaves_rows_outside_the_batch_untouched():
    table = torch.nn.Parameter(torch.randn(100, 3))
    before = table.detach().clone()
    opt = LazyAdam([table], lr=0.1, weight_decay=0.5)
    opt.zero_grad()
    torch.nn.functional.embedding(torch.tensor([3, 7]), table, sparse=True).sum().backward()
    opt.step()
    changed = (table.detach() != before).any(dim=1)
    assert changed.nonzero().flatten().tolist() == [3, 7]


def test_tables_updated_together_match_tables_updated_one_at_a_time():
    torch.manual_seed(1)
    tables = [torch.nn.Parameter(torch.randn(n, 4)) for n in (5, 9, 3)]
    alone = [torch.nn.Parameter(t.detach().clone()) for t in tables]
    together = LazyAdam(tables, lr=0.05, weight_decay=0.01)
    separate = [LazyAdam([t], lr=0.05, weight_decay=0.01) for t in alone]
    for step in range(6):
        rows = [torch.randint(0, len(t), (4,)) for t in tables]
        weights = [torch.randn(4, 4) for _ in tables]
        for params in (tables, alone):
            for param, r, w in zip(params, rows, weights, strict=True):
                param.grad = None
                if step % 3 != 2 or param is not params[1]:  # the middle table sits out some steps
                    (torch.nn.functional.embedding(r, param, sparse=True) * w).sum().backward()
        together.step()
        for opt in separate:
            opt.step()
    for a, b in zip(tables, alone, strict=True):
        torch.testing.assert_close(a.detach(), b.detach())
    assert together.state[tables[1]]["exp_avg"].shape == (9, 4)  # each table's view of the moments
