// The identity GitHub Actions logs in as (azure/login with OIDC: no stored password), federated
// with jobs of one deployment environment of one repository. Least privilege for cd.yml:
// Reader on the resource group (az acr show, az aks show), AcrPush on the registry (push images),
// AKS Cluster User on the cluster (az aks get-credentials; helm then works inside the cluster).

@description('Identity name.')
param name string

@description('Region.')
param location string

@description('Tags.')
param tags object

@description('GitHub repository, owner/name.')
param repository string

@description('GitHub deployment environment of the CD jobs.')
param environment string

@description('Registry CD pushes to (same resource group).')
param acrName string

@description('Cluster CD deploys to (same resource group).')
param aksName string

var readerRoleId = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var acrPushRoleId = '8311e382-0749-4cb8-b61a-304f252e45ec'
var aksClusterUserRoleId = '4abbcc35-e782-43d8-92c5-2d3f1bd2253f'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

resource environmentCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: identity
  name: 'github-${environment}'
  properties: {
    issuer: 'https://token.actions.githubusercontent.com'
    subject: 'repo:${repository}:environment:${environment}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: acrName
}

resource cluster 'Microsoft.ContainerService/managedClusters@2024-05-01' existing = {
  name: aksName
}

resource groupReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, identity.id, readerRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource acrPush 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, acrPushRoleId)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPushRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource clusterUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(cluster.id, identity.id, aksClusterUserRoleId)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', aksClusterUserRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
