"""Seeds 001 and 004: the standard training loop (train() / zero_grad / forward / loss / backward /
step), the evaluation loop (eval() + no_grad, ``torch.max(outputs.data, 1)``) and d2l's
``train_ch5``, on scikit-learn's 8x8 handwritten digits (real data, no download).

The loops are the seeds' code; the data loading and the model around them are this example's.
"""
import time

import numpy as np
from sklearn.datasets import load_digits

import nnbox as torch
import nnbox.nn as nn
from nnbox.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
digits = load_digits()
X = (digits.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8) in [0, 1]
y = digits.target.astype(np.int64)
perm = np.random.default_rng(0).permutation(len(X))
train_idx, test_idx = perm[:1400], perm[1400:]
train_dataset = TensorDataset(torch.from_numpy(X[train_idx]), torch.from_numpy(y[train_idx]))
test_dataset = TensorDataset(torch.from_numpy(X[test_idx]), torch.from_numpy(y[test_idx]))

# 1. 加载预处理数据集
train_loader = DataLoader(train_dataset, batch_size=32, shuffle=True)
test_loader = DataLoader(test_dataset, batch_size=64)

model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.2),
                      nn.Linear(128, 10))
# 2. 定义损失函数
criterion = nn.CrossEntropyLoss()
# 3. 定义优化器
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

# 4. 循环训练模型
model.train()  # 切换训练模式(启用Dropout、BN更新)
for epoch in range(10):  # 迭代轮次
    for inputs, labels in train_loader:
        optimizer.zero_grad()  # 清空梯度
        outputs = model(inputs)  # 前向传播
        loss = criterion(outputs, labels)  # 计算损失
        loss.backward()  # 反向传播(求梯度)
        optimizer.step()  # 更新参数

# 5. 循环测试 / 验证模型
model.eval()  # 切换测试模式(禁用Dropout、固定BN)
with torch.no_grad():  # 禁用梯度计算,节省资源
    correct = 0
    total = 0
    for inputs, labels in test_loader:
        outputs = model(inputs)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
    print(f"测试准确率: {100 * correct / total}%")


# --- seed 004: d2l's train_ch5 (evaluate_accuracy is d2l's helper, written out here) ---
def evaluate_accuracy(data_iter, net, device=None):
    if device is None and isinstance(net, torch.nn.Module):
        device = list(net.parameters())[0].device  # d2l's helper: evaluate where the net is
    net.eval()
    acc_sum, n = 0.0, 0
    with torch.no_grad():
        for X, y in data_iter:
            acc_sum += (net(X.to(device)).argmax(dim=1) == y.to(device)).float().sum().cpu().item()
            n += y.shape[0]
    net.train()
    return acc_sum / n


# 本函数已保存在d2lzh_pytorch包中方便以后使用
def train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs):
    net = net.to(device)
    print("training on ", device)
    loss = torch.nn.CrossEntropyLoss()
    for epoch in range(num_epochs):
        train_l_sum, train_acc_sum, n, batch_count, start = 0.0, 0.0, 0, 0, time.time()
        for X, y in train_iter:
            X = X.to(device)
            y = y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)
            optimizer.zero_grad()
            l.backward()
            optimizer.step()
            train_l_sum += l.cpu().item()
            train_acc_sum += (y_hat.argmax(dim=1) == y).sum().cpu().item()
            n += y.shape[0]
            batch_count += 1
        test_acc = evaluate_accuracy(test_iter, net)
        print('epoch %d, loss %.4f, train acc %.3f, test acc %.3f, time %.1f sec'
              % (epoch + 1, train_l_sum / batch_count, train_acc_sum / n, test_acc, time.time() - start))


net = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
train_ch5(net, train_loader, test_loader, 32, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), device, 5)
