// Azure Container Registry: no admin user, no anonymous pull; AKS pulls with its kubelet identity
// (AcrPull, aks.bicep) and CD pushes with the GitHub identity (AcrPush, github-identity.bicep).

@description('Registry name (globally unique, alphanumerics).')
param name string

@description('Region.')
param location string

@description('Tags.')
param tags object

@description('Standard: 100 GiB and webhooks; Premium only for geo-replication and private link.')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param sku string = 'Standard'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
    policies: {
      retentionPolicy: {
        status: 'disabled'
        days: 7
      }
    }
  }
}

output id string = registry.id
output name string = registry.name
output loginServer string = registry.properties.loginServer
