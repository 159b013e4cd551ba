"""Seed 001's four ways to organise an MLP: ``Model_Seq`` (plain Module), ``Model_Lay``
(Sequential blocks), ``Model_Lst`` (ModuleList) and ``Model_Dict`` (ModuleDict).

Seed code unchanged (only the imports); the lines after each class print the model and run it
on a batch of 28x28 images.
"""
import nnbox as torch
import nnbox.nn as nn
import nnbox.nn.functional as F


class Model_Seq(nn.Module):
    def __init__(self, in_dim, n_hidden_1, n_hidden_2, out_dim):
        super(Model_Seq, self).__init__()
        # 1. 定义网络层
        self.flatten = nn.Flatten()  # 展平层(28×28→784)
        self.linear1 = nn.Linear(in_dim, n_hidden_1)  # 全连接层1
        self.bn1 = nn.BatchNorm1d(n_hidden_1)  # 批量归一化层1
        self.linear2 = nn.Linear(n_hidden_1, n_hidden_2)  # 全连接层2
        self.bn2 = nn.BatchNorm1d(n_hidden_2)  # 批量归一化层2
        self.out = nn.Linear(n_hidden_2, out_dim)  # 输出层

    def forward(self, x):
        # 2. 定义前向传播
        x = self.flatten(x)
        x = F.relu(self.bn1(self.linear1(x)))  # 线性→归一化→激活
        x = F.relu(self.bn2(self.linear2(x)))
        x = F.softmax(self.out(x), dim=1)  # 输出概率分布
        return x


class Model_Lay(nn.Module):
    def __init__(self, in_dim, n_hidden_1, n_hidden_2, out_dim):
        super(Model_Lay, self).__init__()
        # 用Sequential打包子模块
        self.layer1 = nn.Sequential(nn.Linear(in_dim, n_hidden_1), nn.BatchNorm1d(n_hidden_1))
        self.layer2 = nn.Sequential(nn.Linear(n_hidden_1, n_hidden_2), nn.BatchNorm1d(n_hidden_2))
        self.out = nn.Sequential(nn.Linear(n_hidden_2, out_dim))

    def forward(self, x):
        x = nn.Flatten()(x)
        x = F.relu(self.layer1(x))
        x = F.relu(self.layer2(x))
        return F.softmax(self.out(x), dim=1)


class Model_Lst(nn.Module):
    def __init__(self, in_dim, n_hidden_1, n_hidden_2, out_dim):
        super(Model_Lst, self).__init__()
        # 用ModuleList存储层(列表形式)
        self.layers = nn.ModuleList([
            nn.Flatten(),
            nn.Linear(in_dim, n_hidden_1),
            nn.BatchNorm1d(n_hidden_1),
            nn.ReLU(),
            nn.Linear(n_hidden_1, n_hidden_2),
            nn.Linear(n_hidden_2, out_dim)
        ])

    def forward(self, x):
        # 循环调用ModuleList中的层
        for layer in self.layers:
            x = layer(x)
        return x


class Model_Dict(nn.Module):
    def __init__(self, in_dim, n_hidden_1, n_hidden_2, out_dim):
        super(Model_Dict, self).__init__()
        # 用ModuleDict存储层(字典形式)
        self.layers_dict = nn.ModuleDict({
            "flatten": nn.Flatten(),
            "linear1": nn.Linear(in_dim, n_hidden_1),
            "bn1": nn.BatchNorm1d(n_hidden_1),
            "relu": nn.ReLU(),
            "out": nn.Linear(n_hidden_1, out_dim)
        })

    def forward(self, x):
        # 手动定义层的执行顺序
        order = ["flatten", "linear1", "bn1", "relu", "out"]
        for layer_name in order:
            x = self.layers_dict[layer_name](x)
        return x


# 实例化模型
in_dim, n_hidden_1, n_hidden_2, out_dim = 28 * 28, 300, 100, 10
images = torch.randn(16, 1, 28, 28)
for cls in (Model_Seq, Model_Lay, Model_Lst, Model_Dict):
    model = cls(in_dim, n_hidden_1, n_hidden_2, out_dim)
    print(model)
    out = model(images)
    print(cls.__name__, tuple(out.shape), sum(p.numel() for p in model.parameters()))
    print(list(model.state_dict().keys()))
