"""Print, by namespace, the public torch 2.13 names nnbox does not have yet.

``python tools/survey_missing.py`` (needs nothing but nnbox: torch's names come from
``nnbox/_torch_names.py``; torchvision's are listed here by hand, as torchvision is not
installable on these machines).
"""
from __future__ import annotations

import importlib
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # this checkout's nnbox

from nnbox._torch_names import NAMES

NNBOX = {
    "torch": "nnbox",
    "torch.nn": "nnbox.nn",
    "torch.nn.functional": "nnbox.nn.functional",
    "torch.Tensor": None,
    "torch.optim": "nnbox.optim",
    "torch.utils.data": "nnbox.utils.data",
}

TORCHVISION = {
    "torchvision.transforms": (
        "nnbox.vision.transforms",
        "AugMix AutoAugment AutoAugmentPolicy CenterCrop ColorJitter Compose ConvertImageDtype "
        "ElasticTransform FiveCrop GaussianBlur Grayscale InterpolationMode Lambda LinearTransformation "
        "Normalize PILToTensor Pad RandAugment RandomAdjustSharpness RandomAffine RandomApply "
        "RandomAutocontrast RandomChoice RandomCrop RandomEqualize RandomErasing RandomGrayscale "
        "RandomHorizontalFlip RandomInvert RandomOrder RandomPerspective RandomPosterize RandomResizedCrop "
        "RandomRotation RandomSolarize RandomVerticalFlip Resize TenCrop ToPILImage ToTensor "
        "TrivialAugmentWide functional v2",
    ),
    "torchvision.datasets": (
        "nnbox.vision.datasets",
        "CIFAR10 CIFAR100 CLEVRClassification Caltech101 Caltech256 CelebA Cityscapes CocoCaptions "
        "CocoDetection Country211 DTD DatasetFolder EMNIST EuroSAT FER2013 FGVCAircraft FakeData "
        "FashionMNIST Flickr30k Flickr8k Flowers102 Food101 GTSRB HMDB51 INaturalist ImageFolder ImageNet "
        "Imagenette KMNIST Kinetics Kitti LFWPairs LFWPeople LSUN MNIST MovingMNIST Omniglot OxfordIIITPet "
        "PCAM Places365 QMNIST RenderedSST2 SBDataset SBU SEMEION STL10 SUN397 SVHN StanfordCars UCF101 "
        "USPS VOCDetection VOCSegmentation VisionDataset WIDERFace",
    ),
}


def missing() -> dict[str, list[str]]:
    import nnbox

    out = {}
    for space, names in NAMES.items():
        target = nnbox.Tensor if NNBOX[space] is None else importlib.import_module(NNBOX[space])
        out[space] = [n for n in names.split() if not hasattr(target, n)]
    for space, (mod, names) in TORCHVISION.items():
        target = importlib.import_module(mod)
        out[space] = [n for n in names.split() if not hasattr(target, n)]
    return out


if __name__ == "__main__":
    for space, names in missing().items():
        total = len(NAMES[space].split()) if space in NAMES else len(TORCHVISION[space][1].split())
        print(f"{space}: {len(names)} of {total} missing")
        print("   ", " ".join(names))
