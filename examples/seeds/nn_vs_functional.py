"""Seed 001: the same layer as an ``nn.Module`` and as an ``nn.functional`` call."""
import nnbox as torch
import nnbox.nn as nn
import nnbox.nn.functional as F

# nn.Module style: instantiate with its sizes, then call it on data
linear = nn.Linear(in_features=784, out_features=300)  # 实例化全连接层
x = linear(torch.randn(1, 784))  # 传入数据计算输出
print(linear)
print(x.shape)

# nn.functional style: the weight and bias are passed by hand on every call
weight = torch.randn(300, 784)  # 手动定义权重
bias = torch.randn(300)         # 手动定义偏置
x = F.linear(torch.randn(1, 784), weight, bias)  # 手动传入参数
print(x.shape)

# the two compute the same thing given the same parameters
inp = torch.randn(2, 784)
print(torch.allclose(linear(inp), F.linear(inp, linear.weight, linear.bias)))

# Dropout: the module follows train()/eval(), the function needs training= passed by hand
drop = nn.Dropout(0.5)
drop.eval()
print(torch.equal(drop(inp), inp), torch.equal(F.dropout(inp, 0.5, training=False), inp))
