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
