"""Public names of torchvision's ``transforms`` and ``datasets`` (0.2x), listed by hand:
torchvision cannot be installed on these machines to generate them. Used to word the error for
a name nnbox.vision lacks, and by tools/survey_missing.py."""

NAMES = {
    "torchvision.transforms": (
        "AugMix AutoAugment AutoAugmentPolicy CenterCrop ColorJitter Compose ConvertImageDtype "
        "ElasticTransform FiveCrop GaussianBlur Grayscale InterpolationMode Lambda "
        "LinearTransformation Normalize PILToTensor Pad RandAugment RandomAdjustSharpness "
        "RandomAffine RandomApply RandomAutocontrast RandomChoice RandomCrop RandomEqualize "
        "RandomErasing RandomGrayscale RandomHorizontalFlip RandomInvert RandomOrder "
        "RandomPerspective RandomPosterize RandomResizedCrop RandomRotation RandomSolarize "
        "RandomVerticalFlip Resize TenCrop ToPILImage ToTensor TrivialAugmentWide functional v2 "
    ),
    "torchvision.datasets": (
        "CIFAR10 CIFAR100 CLEVRClassification Caltech101 Caltech256 CelebA Cityscapes CocoCaptions "
        "CocoDetection Country211 DTD DatasetFolder EMNIST EuroSAT FER2013 FGVCAircraft FakeData "
        "FashionMNIST Flickr30k Flickr8k Flowers102 Food101 GTSRB HMDB51 INaturalist ImageFolder "
        "ImageNet Imagenette KMNIST Kinetics Kitti LFWPairs LFWPeople LSUN MNIST MovingMNIST Omniglot "
        "OxfordIIITPet PCAM Places365 QMNIST RenderedSST2 SBDataset SBU SEMEION STL10 SUN397 SVHN "
        "StanfordCars UCF101 USPS VOCDetection VOCSegmentation VisionDataset WIDERFace "
    ),
}
