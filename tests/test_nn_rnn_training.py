"""End to end: an LSTM (and a GRU) text classifier built identically in torch and nnbox, weights
copied across, follows the same loss for ten SGD steps (float64) and ends with the same weights."""
import numpy as np
import pytest
import torch

import nnbox


def build(m, kind):
    nn = m.nn

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 8, padding_idx=0)
            self.rnn = getattr(nn, kind)(8, 12, num_layers=2, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(24, 5)

        def forward(self, x):
            out = self.rnn(self.emb(x))[0]
            return self.fc(m.relu(out.mean(dim=1)))

    return Classifier().double()


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_ten_sgd_steps_match_torch(kind):
    tm, nm = build(torch, kind), build(nnbox, kind)
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    topt = torch.optim.SGD(tm.parameters(), lr=0.2, momentum=0.9)
    nopt = nnbox.optim.SGD(nm.parameters(), lr=0.2, momentum=0.9)
    rng = np.random.default_rng(0)
    t_losses, n_losses = [], []
    x = rng.integers(0, 50, (6, 7))  # one batch, fitted for ten steps: the loss must fall
    y = rng.integers(0, 5, 6)
    for _ in range(10):
        for m, model, opt, losses in ((torch, tm, topt, t_losses), (nnbox, nm, nopt, n_losses)):
            opt.zero_grad()
            loss = m.nn.functional.cross_entropy(model(m.tensor(x)), m.tensor(y), label_smoothing=0.1)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    np.testing.assert_allclose(n_losses, t_losses, rtol=1e-9)
    assert t_losses[-1] < t_losses[0]
    for (name, tp), (_, np_) in zip(tm.named_parameters(), nm.named_parameters()):
        np.testing.assert_allclose(np_.detach().numpy(), tp.detach().numpy(), rtol=1e-8, atol=1e-10, err_msg=name)
